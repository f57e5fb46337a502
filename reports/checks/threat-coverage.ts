/**
 * Whether every threat model was tried and the white-box attack is the strongest: white-box at least as strong as
 * black-box and transfer per example (C6), score- and decision-based attacks (C7), transfer from an undefended
 * surrogate (C8), and the same attacks breaking the undefended baseline (C13).
 */
import type { CheckRecord, PerSampleRecord, ResultsFile } from '../../src/results/schema';
import { attackLabel, formatEps, pct } from '../format';
import { groupBy, isDefendedId, sameEps } from '../runs';
import { correctAfter, Finding, summarize, white, strongest, label, modelsWithRuns, defendedModels, Check, PerSampleLoader } from './common';
import { C6_AGGREGATE_TOLERANCE, C6_PER_EXAMPLE_TOLERANCE, C13_MAX_RELATIVE_ACCURACY } from './thresholds';

// ---- C6 white-box at least as strong as black-box and transfer, per example ----------------------------
function whiteBoxStrongest(results: ResultsFile, load: PerSampleLoader): CheckRecord {
  const f: Finding[] = [];
  const others = results.runs.filter((r) => r.threat === 'black-box-score' || r.threat === 'decision' || r.threat === 'transfer');
  for (const run of others) {
    const wb = white(results).filter((w) => w.model === run.model && w.norm === run.norm && sameEps(w.eps, run.eps));
    if (!wb.length) continue;
    const best = strongest(wb);
    const where = `on ${run.model} at eps ${formatEps(run.eps)}`;
    if (run.robustAccuracy < best.robustAccuracy - C6_AGGREGATE_TOLERANCE) {
      f.push({
        status: 'fail',
        detail: `${where}, ${label(run)} (${run.threat}) reaches ${pct(run.robustAccuracy)} but the best white-box attack (${label(best)}) only ${pct(best.robustAccuracy)} — the white-box gradient is masked; attack through a BPDA surrogate`,
      });
      continue;
    }
    const own = load(run);
    const wbRecords = wb.map((w) => load(w)).filter((x): x is PerSampleRecord[] => x !== null);
    if (!own || !wbRecords.length) {
      f.push({ status: 'pass', detail: `${where}: aggregate only` });
      continue;
    }
    const wbCorrect = new Map<number, boolean>();
    for (const recs of wbRecords) {
      for (const [i, ok] of correctAfter(recs)) wbCorrect.set(i, (wbCorrect.get(i) ?? true) && ok);
    }
    let missed = 0;
    let compared = 0;
    for (const r of own) {
      const w = wbCorrect.get(r.index);
      if (w === undefined) continue;
      compared++;
      if (r.cleanPrediction === r.label && r.success && w) missed++;
    }
    if (compared && missed / compared > C6_PER_EXAMPLE_TOLERANCE) {
      f.push({
        status: 'warn',
        detail: `${where}, ${label(run)} (${run.threat}) breaks ${missed} of ${compared} examples (${pct(missed / compared)}) that every white-box attack left correct — white-box is not the worst case there; add restarts or another surrogate, and report the per-example worst case`,
      });
    } else f.push({ status: 'pass', detail: '' });
  }
  return summarize(
    'C6',
    f,
    'no black-box or transfer run shares a model and eps with a white-box run; run Square or a transfer attack at the white-box eps',
    (n) => `white-box attacks are at least as strong as black-box/transfer in all ${n} comparisons${others.some((r) => load(r)) ? ', per example' : ' (aggregate only: no per-sample records)'}`,
  );
}

// ---- C7 score-based and decision-based attacks ---------------------------------------------------------
function scoreAndDecisionBasedRun(results: ResultsFile): CheckRecord {
  const targets = defendedModels(results).length ? defendedModels(results) : modelsWithRuns(results);
  const f: Finding[] = [];
  for (const m of targets) {
    const score = results.runs.some((r) => r.model === m && r.threat === 'black-box-score');
    const decision = results.runs.some((r) => r.model === m && r.threat === 'decision');
    if (score && decision) f.push({ status: 'pass', detail: '' });
    else if (!score && !decision) f.push({ status: 'fail', detail: `${m} was never attacked without gradients; add a score-based (Square) and a decision-based (RayS/HSJA) attack` });
    else f.push({ status: 'warn', detail: `${m} has no ${score ? 'decision-based (e.g. RayS, HSJA)' : 'score-based (e.g. Square)'} attack; add one at the main eps` });
  }
  return summarize('C7', f, 'no runs', (n) => `every defended model (${n}) faced a score-based and a decision-based attack`);
}

// ---- C8 transfer from an undefended surrogate ----------------------------------------------------------
function transferFromUndefended(results: ResultsFile): CheckRecord {
  const targets = defendedModels(results);
  if (!targets.length) return { id: 'C8', status: 'skipped', detail: 'no defended model in the results; transfer checks apply to defenses' };
  const f: Finding[] = targets.map((m) => {
    const tr = results.runs.filter((r) => r.model === m && r.threat === 'transfer');
    if (tr.some((r) => r.source !== undefined && !isDefendedId(results, r.source))) return { status: 'pass', detail: '' };
    return tr.length
      ? { status: 'warn', detail: `transfer attacks on ${m} come only from defended sources; add transfer from an undefended surrogate (e.g. a plain VGG-16)` }
      : { status: 'fail', detail: `${m} has no transfer attack; craft PGD examples on an undefended surrogate and evaluate them on ${m}` };
  });
  return summarize('C8', f, '', (n) => `every defended model (${n}) was attacked by transfer from an undefended surrogate`);
}

// ---- C13 the same attacks succeed on the undefended model ----------------------------------------------
function attacksWorkOnBaseline(results: ResultsFile): CheckRecord {
  const undefended = modelsWithRuns(results).filter((m) => !isDefendedId(results, m));
  if (!undefended.length) {
    return { id: 'C13', status: 'skipped', detail: 'no undefended model in the results; add a baseline (defense none) attacked with the same attacks' };
  }
  const f: Finding[] = [];
  const attacked = results.runs.filter((r) => isDefendedId(results, r.model) && r.threat !== 'noise' && r.threat !== 'transfer');
  for (const [attack, runs] of groupBy(attacked, (r) => r.attack)) {
    const base = results.runs.filter((r) => r.attack === attack && undefended.includes(r.model) && r.threat !== 'transfer');
    if (!base.length) {
      f.push({ status: 'warn', detail: `${attackLabel(attack)} was run on the defended model(s) but never on an undefended one; run it on the baseline to show it works` });
      continue;
    }
    const common = base.filter((b) => runs.some((r) => sameEps(r.eps, b.eps) && r.norm === b.norm));
    const pool = common.length ? common : base;
    const maxEps = Math.max(...pool.map((b) => b.eps));
    const b = strongest(pool.filter((x) => sameEps(x.eps, maxEps)));
    const text = `${label(b)} at eps ${formatEps(b.eps)} leaves the undefended ${b.model} at ${pct(b.robustAccuracy)} (clean ${pct(b.cleanAccuracy)})`;
    f.push(
      b.robustAccuracy <= C13_MAX_RELATIVE_ACCURACY * b.cleanAccuracy
        ? { status: 'pass', detail: text }
        : { status: 'fail', detail: `${text} — the attack does not even break an undefended model, so its failure on the defense proves nothing; fix or strengthen the attack` },
    );
  }
  return summarize('C13', f, 'no attack ran on a defended model', (n) => `all ${n} attacks used on the defense break the undefended baseline`);
}

/** C6: white-box strongest (docs/method.md §6). */
export const whiteBoxStrongestCheck: Check = { id: 'C6', name: 'whiteBoxStrongest', title: 'white-box strongest', compute: whiteBoxStrongest };
/** C7: score- and decision-based run (docs/method.md §6). */
export const scoreAndDecisionBasedRunCheck: Check = { id: 'C7', name: 'scoreAndDecisionBasedRun', title: 'score- and decision-based run', compute: scoreAndDecisionBasedRun };
/** C8: transfer from an undefended surrogate (docs/method.md §6). */
export const transferFromUndefendedCheck: Check = { id: 'C8', name: 'transferFromUndefended', title: 'transfer from an undefended surrogate', compute: transferFromUndefended };
/** C13: attacks work on the baseline (docs/method.md §6). */
export const attacksWorkOnBaselineCheck: Check = { id: 'C13', name: 'attacksWorkOnBaseline', title: 'attacks work on the baseline', compute: attacksWorkOnBaseline };
