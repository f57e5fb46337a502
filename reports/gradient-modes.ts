/**
 * White-box robustness per gradient mode, per example (the BPDA comparison of the HTML report and the Markdown).
 * For each model attacked white-box through more than one gradient mode, at each bounded eps: the per-example
 * worst case (check C14) over the white-box runs through each mode, over every mode, and, where the model record
 * names oracle modes (those that use the defender's secret, the true transmission matrix) and some of them ran,
 * over every mode but those: what an attacker without the secret achieves, next to the oracle's upper bound.
 */
import type { ResultsFile, RunRecord } from '../src/results/schema';
import { isUnboundedEps, worstCaseAccuracy, type PerSampleLoader, type WorstCase } from './checks';
import { epsKey, gradientOf, modelById } from './runs';

export interface GradientModeRow {
  /** A gradient mode as runs record it, 'every mode', or 'every mode but the oracle'. */
  label: string;
  kind: 'mode' | 'every' | 'no-oracle';
  /** One cell per eps of the table (null: nothing ran through this mode at that eps). */
  cells: (WorstCase | null)[];
}

export interface GradientModeTable {
  model: string;
  norm: 'linf' | 'l2';
  /** Pixel units, ascending. */
  eps: number[];
  /** The oracle modes that ran on the model (empty: no 'but the oracle' row). */
  oracle: string[];
  rows: GradientModeRow[];
}

/** The oracle modes of a model record (`oracleGradientModes`; none when the record does not say). */
export function oracleModes(results: ResultsFile, model: string): string[] {
  const declared = modelById(results, model)?.oracleGradientModes;
  return Array.isArray(declared) ? declared.map(String) : [];
}

/** A run's mode without the query count of bpda-estimated:N or a sign surrogate, to compare with declared names. */
export function declaredName(mode: string): string {
  return mode.split('+')[0].split(':')[0];
}

/** Whether a run went through one of `model`'s oracle modes (oracleModes), whatever its query count or surrogate. */
export function isOracleRunOf(results: ResultsFile, model: string): (run: RunRecord) => boolean {
  const declared = oracleModes(results, model);
  return (r) => declared.includes(declaredName(gradientOf(r)));
}

export function gradientModeTables(results: ResultsFile, load: PerSampleLoader): GradientModeTable[] {
  const out: GradientModeTable[] = [];
  for (const model of new Set(results.runs.map((r) => r.model))) {
    for (const norm of ['linf', 'l2'] as const) {
      const wb = results.runs.filter((r) => r.model === model && r.norm === norm && r.threat === 'white-box' && !isUnboundedEps(r));
      const modes = [...new Set(wb.map(gradientOf))];
      if (modes.length < 2) continue;
      // one eps per key (eps equal up to rounding share a column), as the runs record it
      const byKey = new Map<string, number>();
      for (const r of wb) if (!byKey.has(epsKey(r.eps))) byKey.set(epsKey(r.eps), r.eps);
      const eps = [...byKey.values()].sort((a, b) => a - b);
      const declared = oracleModes(results, model);
      const isOracle = isOracleRunOf(results, model);
      const oracle = modes.filter((m) => declared.includes(declaredName(m)));
      const row = (label: string, kind: GradientModeRow['kind'], accept: (r: RunRecord) => boolean): GradientModeRow => ({
        label,
        kind,
        cells: eps.map((e) => worstCaseAccuracy(results, load, model, e, norm, { runs: (r) => r.threat === 'white-box' && accept(r) })),
      });
      const rows = modes.map((m) => row(m, 'mode', (r) => gradientOf(r) === m));
      rows.push(row('every mode', 'every', () => true));
      if (oracle.length && oracle.length < modes.length) rows.push(row(`every mode but the oracle (${oracle.join(', ')})`, 'no-oracle', (r) => !isOracle(r)));
      out.push({ model, norm, eps, oracle, rows });
    }
  }
  return out;
}
