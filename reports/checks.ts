/**
 * Honest-evaluation checks C1–C17 (docs/method.md §6; after Carlini et al. 2019 "On Evaluating Adversarial
 * Robustness", arXiv 1902.06705, and Athalye et al. 2018, arXiv 1802.00420) computed from results.json.
 *
 * Each check yields ONE record: the worst finding decides the status, and its sentence names the model,
 * attack and eps involved and what to do. `skipped` says which data is missing and which run would add it.
 */
import type { CheckRecord, PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import type { Check, PerSampleLoader } from './checks/common';
import { cleanAccuracyReportedCheck, hyperparametersRecordedCheck } from './checks/bookkeeping';
import { iterativeBeatsSingleStepCheck, monotoneInEpsCheck, unboundedAttackSucceedsCheck, convergedCheck, beatsRandomNoiseCheck } from './checks/attack-strength';
import { whiteBoxStrongestCheck, scoreAndDecisionBasedRunCheck, transferFromUndefendedCheck, attacksWorkOnBaselineCheck } from './checks/threat-coverage';
import { randomnessHandledCheck, severalBpdaSurrogatesCheck, gradientNotMaskedCheck, lossOnLogitsCheck, adaptiveAttackCheck } from './checks/gradient-masking';
import { perExampleWorstCaseCheck } from './checks/worst-case';

export type { Check, PerSampleLoader } from './checks/common';
export * from './checks/thresholds';
export { worstCaseAccuracy, type WorstCase } from './checks/worst-case';

/** Every check, in report order (docs/method.md §6). */
export const CHECKS: readonly Check[] = [
  cleanAccuracyReportedCheck,
  iterativeBeatsSingleStepCheck,
  monotoneInEpsCheck,
  unboundedAttackSucceedsCheck,
  convergedCheck,
  whiteBoxStrongestCheck,
  scoreAndDecisionBasedRunCheck,
  transferFromUndefendedCheck,
  randomnessHandledCheck,
  severalBpdaSurrogatesCheck,
  gradientNotMaskedCheck,
  lossOnLogitsCheck,
  attacksWorkOnBaselineCheck,
  perExampleWorstCaseCheck,
  hyperparametersRecordedCheck,
  beatsRandomNoiseCheck,
  adaptiveAttackCheck,
];

/** Compute C1–C17 for a results file. `perSample` loads a run's per-example records (null when absent). */
export function computeChecks(results: ResultsFile, perSample: (run: RunRecord) => PerSampleRecord[] | null): CheckRecord[] {
  const cache = new Map<RunRecord, PerSampleRecord[] | null>();
  const load: PerSampleLoader = (run) => {
    if (!cache.has(run)) cache.set(run, run.perSample ? perSample(run) : null);
    return cache.get(run) ?? null;
  };
  const notes = scaleNotes(results);
  const checks = CHECKS.map((c) => c.compute(results, load));
  return checks.map((c) => (notes[c.id] && (c.status === 'fail' || c.status === 'warn') ? { ...c, detail: `${c.detail} At this run's scale: ${notes[c.id]}`, note: notes[c.id] } : c));
}

/**
 * Notes a run declares (environment.scaleNotes, e.g. the demo's) on why a check cannot pass at its size; shown with
 * the check when it does not pass.
 */
function scaleNotes(results: ResultsFile): Record<string, string> {
  const raw = results.environment.scaleNotes;
  if (typeof raw !== 'object' || raw === null) return {};
  return Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** "C2 fail: ..." — one line for terminals and logs. */
export function formatCheck(c: CheckRecord): string {
  return `${c.id} ${c.status}: ${c.detail}`;
}
