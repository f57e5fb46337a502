/**
 * The fingerprint of what a results file's checks depend on (its models and runs). assembleResults records it
 * next to the checks; `opulab report` recomputes the checks whenever the file's models or runs no longer match
 * it (runs appended by `opulab attack`, a hand edit), and always with --recheck.
 */
import * as crypto from 'crypto';
import type { ResultsFile } from './schema';
import { stableStringify } from '../util/stable-json';


/** A run as the results loader sees it (reports/load.ts fills in params {} and norm 'linf'), as stable text. */
export function runKey(run: unknown): string {
  const r = run as Record<string, unknown>;
  return stableStringify({ ...r, params: r.params ?? {}, norm: r.norm ?? 'linf' });
}

export function checksFingerprint(results: Pick<ResultsFile, 'models' | 'runs'>): string {
  const text = `${stableStringify(results.models)}|${results.runs.map(runKey).join(',')}`;
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Whether the checks stored in `results` were computed from its current models and runs. */
export function checksAreCurrent(results: Pick<ResultsFile, 'models' | 'runs' | 'checks' | 'checksOf'>): boolean {
  return results.checks.length > 0 && results.checksOf === checksFingerprint(results);
}
