/**
 * Epsilon parsing and pixel <-> normalized space conversion.
 *
 * Pixel space: images in [0,1]. Normalized space: (x - mean) / std per channel, as the model sees them.
 * A normalized-space budget e is the per-channel pixel budget e * std_c. Attacks take ONE scalar pixel eps,
 * so a normalized eps converts to e * max_c(std_c): the pixel ball of that radius CONTAINS the normalized
 * ball (for L-inf and L2 alike), so the attacker is never weaker than the user asked — the sound direction
 * for a robustness claim. With equal stds (CIFAR-10: 0.5) the conversion is exact: 0.05 normalized =
 * 0.025 = 6.4/255 pixel (docs/method.md §5). `perChannelPixelEps` gives the exact per-channel budgets for
 * reporting.
 */
import type { EpsSpace } from '../src/types';
import { UserError } from '../src/util/errors';

export const EPS_SPACES: readonly EpsSpace[] = ['pixel', 'normalized'];

const NUMBER = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Parse one eps: a decimal ('0.03', '1e-3') or a fraction ('8/255'). Must be finite and >= 0. */
export function parseEps(text: string): number {
  const s = text.trim();
  const bad = (why: string): UserError =>
    new UserError(`bad eps '${text}': ${why} (expected a number >= 0 such as 0.03 or 8/255)`);
  if (s.startsWith('-') && !s.startsWith('--') && s.length > 1) {
    const rest = s.slice(1).split('/');
    if (rest.length <= 2 && rest.every((p) => NUMBER.test(p.trim()))) throw bad('an eps cannot be negative');
  }
  const parts = s.split('/');
  if (parts.length > 2 || parts.some((p) => !NUMBER.test(p.trim()))) throw bad('not a number or fraction');
  const num = Number(parts[0].trim());
  const den = parts.length === 2 ? Number(parts[1].trim()) : 1;
  if (den === 0) throw bad('division by zero');
  const v = num / den;
  if (!Number.isFinite(v)) throw bad('not finite');
  return v;
}

/** Parse a comma-separated list ('0,1/255,2/255') or an array of strings/numbers into eps values. */
export function parseEpsList(input: string | readonly (string | number)[]): number[] {
  const items = typeof input === 'string' ? input.split(',') : input;
  if (items.length === 0 || (typeof input === 'string' && input.trim() === '')) {
    throw new UserError(`bad eps list '${String(input)}': expected one or more values such as 0,4/255,8/255`);
  }
  return items.map((item) => {
    if (typeof item === 'number') {
      if (!Number.isFinite(item) || item < 0) {
        throw new UserError(`bad eps '${item}': expected a finite number >= 0`);
      }
      return item;
    }
    return parseEps(item);
  });
}

export function parseEpsSpace(text: string): EpsSpace {
  if (!(EPS_SPACES as readonly string[]).includes(text)) {
    throw new UserError(`bad eps space '${text}': expected one of ${EPS_SPACES.join(', ')}`);
  }
  return text as EpsSpace;
}

function checkStd(std: readonly number[]): number {
  if (std.length === 0 || std.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new UserError(`bad normalization std [${std.join(', ')}]: expected one or more finite values > 0`);
  }
  return Math.max(...std);
}

/** Normalized-space eps -> the scalar pixel eps e * max(std) (see the module note). */
export function normalizedToPixel(eps: number, std: readonly number[]): number {
  return eps * checkStd(std);
}

/** Pixel eps -> normalized-space eps, the inverse of `normalizedToPixel`: e / max(std). */
export function pixelToNormalized(eps: number, std: readonly number[]): number {
  return eps / checkStd(std);
}

/** The exact per-channel pixel budgets e * std_c of a normalized-space eps. */
export function perChannelPixelEps(eps: number, std: readonly number[]): number[] {
  checkStd(std);
  return std.map((s) => eps * s);
}

/** Convert eps values given in `space` to pixel units. */
export function toPixelEps(eps: readonly number[], space: EpsSpace, std: readonly number[]): number[] {
  return eps.map((e) => (space === 'pixel' ? e : normalizedToPixel(e, std)));
}

/** A readable label: '8/255' when eps is (close to) a multiple of 1/255, else the decimal. */
export function formatEps(eps: number): string {
  const k = eps * 255;
  if (eps !== 0 && Math.abs(k - Math.round(k)) < 1e-6) return `${Math.round(k)}/255`;
  return String(Number(eps.toPrecision(6)));
}
