/**
 * The ablation at a glance (docs/method.md §1: what each part of the defense buys): per model, clean accuracy and
 * the per-example worst cases the claims read (reports/claims.ts) — white-box at 8/255 over every gradient mode and
 * over every mode but the oracle, black-box at 8/256 (HopSkipJump at 8/255), and transfer PGD from the surrogate.
 * The wide ablation table of results.extras keeps each attack and eps apart; this one is what a reader compares.
 */
import type { ResultsFile, RunRecord } from '../src/results/schema';
import type { PerSampleLoader } from './checks';
import { isBlackBoxRun, isWhiteBoxRun, transferPgdAccuracy, worstCaseAtClaimEps } from './claims';
import { isOracleRunOf, oracleModes } from './gradient-modes';
import { modelIds, modelById } from './runs';

export interface AblationSummaryRow {
  model: string;
  /** The spec's name of the model, when it has one. */
  name?: string;
  defense: string;
  cleanAccuracy: number;
  /** Per-example worst cases (null: no such run); n is the images they share. */
  whiteBox: { accuracy: number; n: number } | null;
  /** The same without the oracle modes; null when the model declares none (then it equals whiteBox). */
  whiteBoxNoOracle: { accuracy: number; n: number } | null;
  blackBox: { accuracy: number; n: number } | null;
  transferPgd: number | null;
}

/** One row per attacked model (a model with no run of its own, such as the transfer surrogate, is left out). */
export function ablationSummary(results: ResultsFile, load: PerSampleLoader): AblationSummaryRow[] {
  const attacked = new Set(results.runs.filter((r) => r.threat !== 'transfer' && r.threat !== 'noise').map((r) => r.model));
  return modelIds(results)
    .filter((id) => attacked.has(id))
    .map((id) => {
      const m = modelById(results, id);
      const hasOracle = oracleModes(results, id).length > 0;
      const isOracle = isOracleRunOf(results, id);
      const pick = (accept: (r: RunRecord) => boolean): { accuracy: number; n: number } | null => {
        const w = worstCaseAtClaimEps(results, load, id, accept);
        return w ? { accuracy: w.accuracy, n: w.n } : null;
      };
      return {
        model: id,
        ...(typeof m?.name === 'string' ? { name: m.name } : {}),
        defense: String(m?.defense ?? '—'),
        cleanAccuracy: m?.cleanAccuracy ?? NaN,
        whiteBox: pick(isWhiteBoxRun),
        whiteBoxNoOracle: hasOracle ? pick((r) => isWhiteBoxRun(r) && !isOracle(r)) : null,
        blackBox: pick(isBlackBoxRun),
        transferPgd: transferPgdAccuracy(results, id) ?? null,
      };
    });
}

export const ABLATION_SUMMARY_HEADERS = [
  'model',
  'defense',
  'clean',
  'white-box, every mode',
  'white-box, no oracle',
  'black-box',
  'transfer PGD (common-correct)',
];

export const ABLATION_SUMMARY_NOTE =
  'Per-example worst cases at 8/255 (attacks at a smaller eps count too: the black-box suite runs at 8/256). ' +
  '*No oracle* leaves out the gradient modes that use the true transmission matrix (bpda-true, and true through the ' +
  'matrix), which the defender keeps secret; a dash where a model has no such mode. Transfer: PGD crafted on the ' +
  'surrogate at normalized eps 0.04, scored on the images every compared model classifies correctly.';
