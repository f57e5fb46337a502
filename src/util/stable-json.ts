/**
 * JSON text that does not depend on key order, and a short hash of it: the keys of the run journal
 * (src/experiments/store.ts) and the checks fingerprint (src/results/fingerprint.ts). Changing the text changes
 * every journal key, so existing runs would no longer resume: keep it exactly as it is.
 */
import * as crypto from 'crypto';

/** JSON with object keys sorted and undefined-valued keys left out, at every depth. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A short stable hash of any JSON-serialisable value (key order normalised): 16 hex digits of SHA-256. */
export function contentHash(value: unknown): string {
  return crypto.createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}
