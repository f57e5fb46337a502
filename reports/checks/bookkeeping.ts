/** What the results record: clean accuracy next to every robust number (C1) and every hyperparameter (C15). */
import type { CheckRecord, ResultsFile } from '../../src/results/schema';
import { attackLabel, formatEps, pct } from '../format';
import { choosesOwnStepSize, isIterative, isStochasticModel, numParam } from '../runs';
import { Finding, summarize, Check } from './common';
import { C1_ROBUST_ABOVE_CLEAN_TOLERANCE } from './thresholds';

// ---- C1 clean accuracy next to every robust number ----------------------------------------------------
function cleanAccuracyReported(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  for (const run of results.runs) {
    const where = `${attackLabel(run.attack)} on ${run.model} at eps ${formatEps(run.eps)}`;
    if (typeof run.cleanAccuracy !== 'number' || !Number.isFinite(run.cleanAccuracy)) {
      f.push({ status: 'fail', detail: `${where} reports robust accuracy without a clean accuracy; record cleanAccuracy on the same examples` });
    } else if (run.robustAccuracy > run.cleanAccuracy + C1_ROBUST_ABOVE_CLEAN_TOLERANCE && !isStochasticModel(results, run.model)) {
      f.push({
        status: 'warn',
        detail: `${where} has robust accuracy ${pct(run.robustAccuracy)} above its clean accuracy ${pct(run.cleanAccuracy)}; the two were measured on different examples or the model is random`,
      });
    } else f.push({ status: 'pass', detail: '' });
  }
  for (const m of results.models) {
    if (typeof m.cleanAccuracy !== 'number' || !Number.isFinite(m.cleanAccuracy)) {
      f.push({ status: 'fail', detail: `model ${m.id} has no clean accuracy; evaluate it on the clean test set` });
    }
  }
  return summarize('C1', f, 'no runs in the results; run at least one attack', () => `all ${results.runs.length} robust numbers carry the clean accuracy of the same examples`);
}

// ---- C15 every hyperparameter recorded -----------------------------------------------------------------
function hyperparametersRecorded(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  results.runs.forEach((r, i) => {
    const where = `run #${i} (${attackLabel(String(r.attack))} on ${r.model})`;
    if (typeof r.eps !== 'number' || !Number.isFinite(r.eps) || (r.epsSpace !== 'pixel' && r.epsSpace !== 'normalized')) {
      f.push({ status: 'fail', detail: `${where} lacks eps or epsSpace (pixel|normalized); a robust accuracy without its budget and units is meaningless` });
      return;
    }
    const missing: string[] = [];
    if (numParam(r, 'seed') === undefined && typeof r.seed !== 'number') missing.push('seed');
    if (isIterative(r)) {
      if (numParam(r, 'steps', 'iterations') === undefined) missing.push('steps');
      if (numParam(r, 'stepSize', 'alpha') === undefined && !choosesOwnStepSize(r)) missing.push('stepSize');
    }
    if ((r.threat === 'black-box-score' || r.threat === 'decision') && numParam(r, 'maxQueries', 'queries') === undefined) missing.push('maxQueries');
    if (r.threat === 'transfer' && !r.source) missing.push('source');
    f.push(
      missing.length
        ? { status: 'warn', detail: `${where} at eps ${formatEps(r.eps)} does not record ${missing.join(', ')}; put every hyperparameter in params` }
        : { status: 'pass', detail: '' },
    );
  });
  return summarize('C15', f, 'no runs', (n) => `all ${n} runs record eps with units, seed, steps/step size or query budget`);
}

/** C1: clean accuracy reported (docs/method.md §6). */
export const cleanAccuracyReportedCheck: Check = { id: 'C1', name: 'cleanAccuracyReported', title: 'clean accuracy reported', compute: cleanAccuracyReported };
/** C15: hyperparameters recorded (docs/method.md §6). */
export const hyperparametersRecordedCheck: Check = { id: 'C15', name: 'hyperparametersRecorded', title: 'hyperparameters recorded', compute: hyperparametersRecorded };
