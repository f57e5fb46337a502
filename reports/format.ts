/** Text formatting shared by the checks and the HTML report. */
import type { RunRecord } from '../src/results/schema';

/** HTML-escape a user string for element content and quoted attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** 0.412 -> "41.2%". */
export function pct(x: number | undefined | null, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '—';
}

/** Pixel eps as k/255: 0.0314 -> "8/255", 0.0157 -> "4/255", 0.005 -> "1.3/255". */
export function epsAs255(eps: number): string {
  const k = eps * 255;
  const r = Math.round(k);
  return Math.abs(k - r) < 0.02 ? `${r}/255` : `${k.toFixed(1)}/255`;
}

/** A pixel eps for prose: "0.0314 (8/255)". */
export function formatEps(eps: number): string {
  return `${Number(eps.toPrecision(3))} (${epsAs255(eps)})`;
}

/** A run's eps for prose, with the user's normalized value when that is what was specified. */
export function formatRunEps(run: RunRecord): string {
  const base = formatEps(run.eps);
  return run.epsSpace === 'normalized' && typeof run.epsInSpace === 'number'
    ? `${base}, ${run.epsInSpace} normalized`
    : base;
}

/** "pgd" -> "PGD", "apgd-dlr" -> "APGD-DLR", "square" -> "Square". */
export function attackLabel(name: string): string {
  const known: Record<string, string> = { rays: 'RayS', square: 'Square', noise: 'Noise', bandits: 'Bandits-TD', 'bandits-td': 'Bandits-TD', parsimonious: 'Parsimonious' };
  const upper = /^(fgsm|pgd|apgd|apgd-ce|apgd-dlr|bim|mifgsm|cw|nes|hsja|spsa|eot-pgd)$/i;
  if (known[name.toLowerCase()]) return known[name.toLowerCase()];
  return upper.test(name) ? name.toUpperCase() : name.charAt(0).toUpperCase() + name.slice(1);
}
