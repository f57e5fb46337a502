/** Text formatting shared by the checks and the HTML report. */

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

/** A number to 3 significant digits for reading (0.00196078 -> "0.00196"); integers stay exact. */
export function sig3(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  if (Math.abs(x) >= 1000) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

/** A count (queries, images) as an integer with thousands separators: 4999.6 -> "5,000". */
export function formatInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x);
}

/** A fraction as a percentage to 3 significant digits (rates that are not accuracies): 0.0004 -> "0.04%". */
export function pct3(x: number | undefined | null): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  return x === 0 ? '0%' : `${sig3(x * 100)}%`;
}

/** A difference of two fractions in percentage points, signed: 0.031 -> "+3.1", -0.2 -> "−20.0". */
export function points(delta: number): string {
  if (!Number.isFinite(delta)) return '—';
  const v = (delta * 100).toFixed(1);
  if (v === '0.0' || v === '-0.0') return '±0.0';
  return delta > 0 ? `+${v}` : `−${v.slice(1)}`;
}

/** Seconds for reading: 8.14 -> "8.1 s", 196 -> "196 s", 690 -> "11.5 min", 7421 -> "2.06 h". */
export function formatSeconds(sec: number): string {
  if (!Number.isFinite(sec)) return String(sec);
  if (sec < 10) return `${sec.toFixed(1)} s`;
  if (sec < 600) return `${Math.round(sec)} s`;
  if (sec < 3600 * 2) return `${sig3(sec / 60)} min`;
  return `${sig3(sec / 3600)} h`;
}

/** A pixel eps for prose: "8/255 (0.0314)" — the k/255 reading first, the decimal beside it. */
export function formatEps(eps: number): string {
  if (eps === 0) return '0';
  return `${epsAs255(eps)} (${sig3(eps)})`;
}

/**
 * Any parameter value for reading: numbers to 3 significant digits, short number lists inline, objects as
 * "key value" pairs. Full precision stays in results.json.
 */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return sig3(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) {
    if (v.length && v.every((x) => typeof x === 'object' && x !== null)) return `${v.length} records`;
    if (v.length > 8) return `${v.length} values`;
    return `[${v.map(formatValue).join(', ')}]`;
  }
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k} ${formatValue(x)}`)
      .join(', ');
  }
  return String(v);
}

/** "pgd" -> "PGD", "apgd-dlr" -> "APGD-DLR", "square" -> "Square". */
export function attackLabel(name: string): string {
  const known: Record<string, string> = { rays: 'RayS', square: 'Square', noise: 'Noise', bandits: 'Bandits-TD', 'bandits-td': 'Bandits-TD', parsimonious: 'Parsimonious' };
  // a trailing step count stays with its name: "pgd50" -> "PGD50"
  const upper = /^(fgsm|pgd|apgd|apgd-ce|apgd-dlr|bim|mifgsm|cw|nes|hsja|spsa|eot-pgd)\d*$/i;
  if (known[name.toLowerCase()]) return known[name.toLowerCase()];
  if (upper.test(name)) return name.toUpperCase();
  // Labelled variants ("pgd-unbounded", "transfer-pgd"): each known part keeps its own spelling; a known name of two
  // parts at the start stays whole ("bandits-td-eta0.5" -> "Bandits-TD-eta0.5", not "Bandits-TD-td-eta0.5").
  const lower = name.toLowerCase();
  const head = Object.keys(known).find((k) => k.includes('-') && lower.startsWith(`${k}-`));
  const rest = head ? name.slice(head.length + 1) : name;
  const parts = rest.split('-').map((p) => (known[p.toLowerCase()] ? known[p.toLowerCase()] : upper.test(p) ? p.toUpperCase() : p));
  if (head) parts.unshift(known[head]);
  return parts.join('-').charAt(0).toUpperCase() + parts.join('-').slice(1);
}
