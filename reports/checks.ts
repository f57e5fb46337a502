/**
 * Honest-evaluation checks C1–C17 (docs/method.md §6; after Carlini et al. 2019 "On Evaluating Adversarial
 * Robustness", arXiv 1902.06705, and Athalye et al. 2018, arXiv 1802.00420) computed from results.json.
 *
 * Each check yields ONE record: the worst finding decides the status, and its sentence names the model,
 * attack and eps involved and what to do. `skipped` says which data is missing and which run would add it.
 */
import type { CheckRecord, PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { attackLabel, formatEps, pct } from './format';
import {
  epsKey,
  gradientOf,
  groupBy,
  isAdaptive,
  choosesOwnStepSize,
  isDefendedId,
  isIterative,
  isSingleStep,
  isStochasticModel,
  modelById,
  numParam,
  sameEps,
  seriesLabel,
  strParam,
} from './runs';

/** Loads the per-sample records of a run (null when the run has none or the file is missing). */
export type PerSampleLoader = (run: RunRecord) => PerSampleRecord[] | null;

// ---- Thresholds (accuracies are fractions; 0.01 = one percentage point) -------------------------------
/** C1: robust accuracy above clean accuracy by more than this is a bookkeeping error (or randomness). */
export const C1_ROBUST_ABOVE_CLEAN_TOLERANCE = 0.01;
/** C2: iterative attack accuracy may exceed the single-step one by at most this before it is a failure. */
export const C2_TOLERANCE = 0.01;
/** C3: accuracy may rise with eps by at most this (random starts) before it is a failure. */
export const C3_TOLERANCE = 0.01;
/** C4: an eps at least this large (pixel L-inf) counts as "unbounded": any image can become any image. */
export const C4_UNBOUNDED_LINF_EPS = 0.3;
/** C4: the same for L2 (32x32x3 images in [0,1]; 10 is about half the diameter of the image cube). */
export const C4_UNBOUNDED_L2_EPS = 10;
/** C4: accuracy at or below this under an unbounded attack passes; up to chance (1/classes) warns. */
export const C4_PASS_ACCURACY = 0.02;
/** C5: more steps/restarts must move accuracy by less than ~1 point (REFERENCE §5); above FAIL fails. */
export const C5_CONVERGED_DELTA = 0.01;
export const C5_FAIL_DELTA = 0.03;
/** C6: a black-box/transfer attack beating the best white-box by more than this (aggregate) fails. */
export const C6_AGGREGATE_TOLERANCE = 0.01;
/** C6: fraction of examples broken ONLY by a black-box/transfer attack above which it warns. */
export const C6_PER_EXAMPLE_TOLERANCE = 0.01;
/** C9: EOT needs at least this many gradient samples per step on a randomized model. */
export const C9_MIN_EOT_SAMPLES = 2;
/** C9: clean accuracy spread across runs (same n) above this suggests an undeclared randomized model. */
export const C9_CLEAN_SPREAD = 0.005;
/** C10: a non-differentiable defense should be attacked through at least this many BPDA surrogates. */
export const C10_MIN_BPDA_MODES = 2;
/** C11: zero-gradient fraction above WARN warns; at or above MASKED the gradient is masked. */
export const C11_ZERO_FRACTION_WARN = 0.1;
export const C11_ZERO_FRACTION_MASKED = 0.9;
/** C13: an attack "succeeds" on the undefended model when it removes at least half its clean accuracy. */
export const C13_MAX_RELATIVE_ACCURACY = 0.5;
/** C14: the per-example worst case below the best single attack by more than this is worth a note. */
export const C14_GAP_NOTE = 0.01;
/** C16: an attack weaker than random noise of the same size by more than this is broken or masked. */
export const C16_TOLERANCE = 0.01;

type Status = CheckRecord['status'];
interface Finding {
  status: Exclude<Status, 'skipped'>;
  detail: string;
}

const RANK: Record<Status, number> = { skipped: 0, pass: 1, warn: 2, fail: 3 };

/** One record from many findings: the worst decides; its sentence plus a count of the others like it. */
function summarize(id: string, findings: Finding[], skipped: string, passSummary?: (n: number) => string): CheckRecord {
  if (findings.length === 0) return { id, status: 'skipped', detail: skipped };
  const worst = findings.reduce((a, b) => (RANK[b.status] > RANK[a.status] ? b : a));
  if (worst.status === 'pass') {
    return { id, status: 'pass', detail: passSummary ? passSummary(findings.length) : worst.detail };
  }
  const same = findings.filter((f) => f.status === worst.status).length - 1;
  const more = same > 0 ? ` (${same} more ${worst.status === 'fail' ? 'failing' : 'warning'} case${same > 1 ? 's' : ''} like it)` : '';
  return { id, status: worst.status, detail: worst.detail.replace(/\.?$/, more + '.') };
}

function white(results: ResultsFile): RunRecord[] {
  return results.runs.filter((r) => r.threat === 'white-box');
}

/** The run with the lowest robust accuracy. */
function strongest(runs: RunRecord[]): RunRecord {
  return runs.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
}

function label(run: RunRecord): string {
  return seriesLabel(run, true);
}

function numClasses(results: ResultsFile, modelId: string): number {
  const m = modelById(results, modelId);
  const n = m?.numClasses ?? results.environment.numClasses;
  return typeof n === 'number' && n > 1 ? n : 10;
}

function modelsWithRuns(results: ResultsFile): string[] {
  return [...new Set(results.runs.map((r) => r.model))];
}

function defendedModels(results: ResultsFile): string[] {
  return modelsWithRuns(results).filter((id) => isDefendedId(results, id));
}

// ---- C1 clean accuracy next to every robust number ----------------------------------------------------
function c1(results: ResultsFile): CheckRecord {
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

// ---- C2 iterative beats single step --------------------------------------------------------------------
function c2(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  const groups = groupBy(white(results), (r) => [r.model, r.norm, gradientOf(r), epsKey(r.eps)].join('|'));
  for (const runs of groups.values()) {
    const single = runs.filter(isSingleStep);
    const iter = runs.filter(isIterative);
    if (!single.length || !iter.length) continue;
    const s = strongest(single);
    // Every iterative run must beat the strongest single-step one (one strong APGD must not hide a broken PGD).
    for (const it of iter) {
      const g = gradientOf(it);
      const where = `on ${it.model} (${g} gradient) at eps ${formatEps(it.eps)}`;
      if (it.robustAccuracy > s.robustAccuracy + C2_TOLERANCE) {
        f.push({
          status: 'fail',
          detail: `${where}, ${label(it)} accuracy ${pct(it.robustAccuracy)} > ${attackLabel(s.attack)} ${pct(s.robustAccuracy)} — the iterative attack is under-converged or the gradient is masked; increase steps or use a BPDA surrogate`,
        });
      } else if (it.robustAccuracy > s.robustAccuracy) {
        f.push({
          status: 'warn',
          detail: `${where}, ${label(it)} accuracy ${pct(it.robustAccuracy)} is slightly above ${attackLabel(s.attack)} ${pct(s.robustAccuracy)}; add random restarts or steps to the iterative attack`,
        });
      } else f.push({ status: 'pass', detail: '' });
    }
  }
  return summarize(
    'C2',
    f,
    'no model/eps has both a single-step (FGSM) and an iterative (PGD) white-box run with the same gradient; run both at the same eps',
    (n) => `every iterative attack is at least as strong as FGSM in all ${n} comparisons (model, gradient, eps)`,
  );
}

// ---- C3 success never falls as eps grows ---------------------------------------------------------------
function curveKey(r: RunRecord): string {
  return JSON.stringify([r.model, r.attack, r.threat, r.norm, gradientOf(r), r.source ?? '', numParam(r, 'steps') ?? null, numParam(r, 'restarts') ?? null, strParam(r, 'loss') ?? null]);
}

function c3(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  for (const runs of groupBy(results.runs, curveKey).values()) {
    const byEps = [...groupBy(runs, (r) => epsKey(r.eps)).values()].map(strongest).sort((a, b) => a.eps - b.eps);
    if (byEps.length < 2) continue;
    let worstRise = 0;
    let pair: [RunRecord, RunRecord] | null = null;
    for (let i = 0; i < byEps.length; i++) {
      for (let j = i + 1; j < byEps.length; j++) {
        const rise = byEps[j].robustAccuracy - byEps[i].robustAccuracy;
        if (rise > worstRise) {
          worstRise = rise;
          pair = [byEps[i], byEps[j]];
        }
      }
    }
    if (!pair) {
      f.push({ status: 'pass', detail: '' });
      continue;
    }
    const [lo, hi] = pair;
    const text = `on ${lo.model}, ${label(lo)} accuracy rises from ${pct(lo.robustAccuracy)} at eps ${formatEps(lo.eps)} to ${pct(hi.robustAccuracy)} at eps ${formatEps(hi.eps)}`;
    f.push(
      worstRise > C3_TOLERANCE
        ? { status: 'fail', detail: `${text} — a larger budget must never help the model; the attack is not converging (check step size scales with eps)` }
        : { status: 'warn', detail: `${text}; within noise, but add restarts so the curve is monotone` },
    );
  }
  return summarize('C3', f, 'no attack was run at two or more eps; sweep eps (e.g. 2/255, 4/255, 8/255)', (n) => `accuracy never rises with eps along any of ${n} attack curves`);
}

// ---- C4 unbounded attack reaches chance or 0 -----------------------------------------------------------
function isUnbounded(r: RunRecord): boolean {
  return r.norm === 'l2' ? r.eps >= C4_UNBOUNDED_L2_EPS : r.eps >= C4_UNBOUNDED_LINF_EPS;
}

function c4(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  const unbounded = white(results).filter(isUnbounded);
  if (!unbounded.length) {
    return { id: 'C4', status: 'skipped', detail: `no white-box run with eps >= ${C4_UNBOUNDED_LINF_EPS} (L-inf); add an unbounded PGD run (e.g. eps 0.5) on each model` };
  }
  for (const model of modelsWithRuns(results)) {
    const runs = unbounded.filter((r) => r.model === model);
    if (!runs.length) {
      f.push({ status: 'warn', detail: `${model} has no unbounded white-box run; add PGD at eps >= ${C4_UNBOUNDED_LINF_EPS} to show the attack can break it at all` });
      continue;
    }
    const best = strongest(runs);
    const chance = 1 / numClasses(results, model);
    const text = `on ${model}, ${label(best)} at eps ${formatEps(best.eps)} leaves ${pct(best.robustAccuracy)} accuracy`;
    if (best.robustAccuracy <= C4_PASS_ACCURACY) f.push({ status: 'pass', detail: text });
    else if (best.robustAccuracy <= chance) f.push({ status: 'warn', detail: `${text}, near chance but not 0; use more steps so an unbounded attack reaches 0` });
    else f.push({ status: 'fail', detail: `${text}, above chance (${pct(chance)}) — the attack cannot even win without a budget, so the gradient is masked or the attack is broken` });
  }
  return summarize('C4', f, '', () => `unbounded white-box attacks drive every model to ~0% (${unbounded.length} runs)`);
}

// ---- C5 convergence in steps / restarts ----------------------------------------------------------------
function effort(r: RunRecord): number {
  return (numParam(r, 'steps', 'iterations') ?? 1) * (numParam(r, 'restarts') ?? 1);
}

function c5(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  const groups = groupBy(white(results), (r) =>
    JSON.stringify([r.model, r.attack, r.norm, gradientOf(r), epsKey(r.eps), strParam(r, 'loss') ?? null]),
  );
  for (const runs of groups.values()) {
    const configs = new Set(runs.map((r) => `${numParam(r, 'steps', 'iterations')}x${numParam(r, 'restarts') ?? 1}`));
    if (configs.size < 2) continue;
    const least = runs.reduce((a, b) => (effort(b) < effort(a) ? b : a));
    const most = runs.reduce((a, b) => (effort(b) > effort(a) ? b : a));
    const delta = Math.abs(least.robustAccuracy - most.robustAccuracy);
    const cfg = (r: RunRecord): string => {
      const restarts = numParam(r, 'restarts') ?? 1;
      return `${numParam(r, 'steps', 'iterations') ?? 1} steps${restarts > 1 ? ` x ${restarts} restarts` : ''}`;
    };
    const text = `on ${most.model}, ${attackLabel(most.attack)} (${gradientOf(most)}) at eps ${formatEps(most.eps)}: ${cfg(most)} gives ${pct(most.robustAccuracy)} vs ${pct(least.robustAccuracy)} with ${cfg(least)} (${(delta * 100).toFixed(1)} points)`;
    if (delta < C5_CONVERGED_DELTA) f.push({ status: 'pass', detail: text });
    else if (delta < C5_FAIL_DELTA) f.push({ status: 'warn', detail: `${text}; not converged — raise steps/restarts until the change is below 1 point` });
    else f.push({ status: 'fail', detail: `${text} — far from converged; the reported robustness is an overestimate, raise steps/restarts` });
  }
  return summarize(
    'C5',
    f,
    'no attack was run twice differing only in steps or restarts; rerun the main PGD run with 2x steps and several restarts',
    (n) => `more steps/restarts change accuracy by < 1 point in all ${n} comparisons`,
  );
}

// ---- C6 white-box at least as strong as black-box and transfer, per example ----------------------------
/** Index -> "correct after the attack" (clean-correct and not broken), for one run's per-sample records. */
function correctAfter(records: PerSampleRecord[]): Map<number, boolean> {
  const m = new Map<number, boolean>();
  for (const r of records) m.set(r.index, r.cleanPrediction === r.label && !r.success);
  return m;
}

function c6(results: ResultsFile, load: PerSampleLoader): CheckRecord {
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
function c7(results: ResultsFile): CheckRecord {
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
function c8(results: ResultsFile): CheckRecord {
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

// ---- C9 randomized defense -> EOT ----------------------------------------------------------------------
function c9(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  for (const m of modelsWithRuns(results)) {
    const runs = results.runs.filter((r) => r.model === m);
    if (isStochasticModel(results, m)) {
      for (const r of runs.filter((x) => x.threat === 'white-box')) {
        const eot = r.eot;
        if (!eot || eot.samples < C9_MIN_EOT_SAMPLES) {
          f.push({
            status: 'fail',
            detail: `${m} is randomized but ${label(r)} at eps ${formatEps(r.eps)} ran ${eot ? `EOT with ${eot.samples} sample` : 'without EOT'}; average gradients over >= ${C9_MIN_EOT_SAMPLES} (ideally 10+) noise draws`,
          });
        } else if (eot.evalPasses < 2) {
          f.push({
            status: 'warn',
            detail: `${m} is randomized but ${label(r)} at eps ${formatEps(r.eps)} was scored with one forward pass; score over several passes (eot.evalPasses) so accuracy is not luck`,
          });
        } else f.push({ status: 'pass', detail: '' });
      }
      if (!runs.some((x) => x.threat === 'white-box')) f.push({ status: 'pass', detail: '' });
    } else {
      for (const same of groupBy(runs, (r) => String(r.n)).values()) {
        const accs = same.map((r) => r.cleanAccuracy).filter((x) => Number.isFinite(x));
        if (accs.length < 2) continue;
        const spread = Math.max(...accs) - Math.min(...accs);
        f.push(
          spread > C9_CLEAN_SPREAD
            ? { status: 'warn', detail: `clean accuracy of ${m} varies by ${(spread * 100).toFixed(1)} points across runs on the same ${same[0].n} examples, so it looks randomized; mark it stochastic and attack with EOT` }
            : { status: 'pass', detail: '' },
        );
      }
    }
  }
  const stochastic = modelsWithRuns(results).filter((m) => isStochasticModel(results, m));
  return summarize(
    'C9',
    f,
    'no model has two runs to compare and none is declared stochastic',
    () => (stochastic.length ? `randomized model(s) ${stochastic.join(', ')} were attacked with EOT in every white-box run` : 'no model is randomized (clean accuracy identical across runs)'),
  );
}

// ---- C10 several BPDA surrogates -----------------------------------------------------------------------
function c10(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  let checked = 0;
  for (const m of defendedModels(results)) {
    const wb = white(results).filter((r) => r.model === m);
    const modes = [...new Set(wb.map(gradientOf))];
    if (!wb.length || modes.every((g) => g === 'true')) continue; // differentiable defense: BPDA does not apply
    checked++;
    const bpda = modes.filter((g) => /^bpda/i.test(g));
    if (bpda.length >= C10_MIN_BPDA_MODES) f.push({ status: 'pass', detail: `${m}: ${modes.join(', ')}` });
    else if (bpda.length === 1)
      f.push({ status: 'warn', detail: `${m} was attacked through one BPDA surrogate only (${bpda[0]}); add others (straight-through with the true matrix, an estimated matrix, tanh) — a weak surrogate overstates robustness` });
    else
      f.push({ status: 'fail', detail: `${m} was attacked only with its natural gradient (${modes.join(', ')}); its non-differentiable parts need BPDA (straight-through sign + random, true or estimated matrix)` });
  }
  return summarize(
    'C10',
    f,
    'no defended model with non-differentiable parts was attacked white-box',
    () => `gradient modes compared: ${f.map((x) => x.detail).join('; ')}`,
  );
}

// ---- C11 zero / NaN input gradients --------------------------------------------------------------------
function c11(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  const withStats = white(results).filter((r) => r.gradientStats);
  for (const r of withStats) {
    const s = r.gradientStats!;
    const where = `${label(r)} on ${r.model} at eps ${formatEps(r.eps)}`;
    const otherModes = white(results).some((o) => o.model === r.model && gradientOf(o) !== gradientOf(r) && (o.gradientStats?.zeroFraction ?? 0) < C11_ZERO_FRACTION_MASKED);
    if (s.nanFraction > 0) {
      f.push({ status: 'fail', detail: `${where} saw ${pct(s.nanFraction, 2)} NaN gradient entries; the loss overflows (use logits, clamp) or the surrogate is broken` });
    } else if (s.zeroFraction >= C11_ZERO_FRACTION_MASKED) {
      f.push(
        otherModes
          ? { status: 'warn', detail: `${where}: ${pct(s.zeroFraction)} of input-gradient entries are zero, so the ${gradientOf(r)} gradient is masked; its accuracies are not robustness evidence (BPDA runs on the same model are)` }
          : { status: 'fail', detail: `${where}: ${pct(s.zeroFraction)} of input-gradient entries are zero and no other gradient mode was tried — gradient masking; attack through a BPDA surrogate` },
      );
    } else if (s.zeroFraction > C11_ZERO_FRACTION_WARN) {
      f.push({ status: 'warn', detail: `${where}: ${pct(s.zeroFraction)} of input-gradient entries are zero; check for saturated activations or a partly masked path` });
    } else f.push({ status: 'pass', detail: '' });
  }
  return summarize(
    'C11',
    f,
    'no white-box run records gradientStats (zero/NaN fraction of input gradients); have the attack runner record them',
    (n) => `input gradients are dense and finite in all ${n} white-box runs that recorded them`,
  );
}

// ---- C12 loss on logits --------------------------------------------------------------------------------
function c12(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  for (const r of results.runs.filter((x) => x.threat === 'white-box' || x.threat === 'black-box-score')) {
    const loss = strParam(r, 'loss');
    const input = strParam(r, 'lossInput');
    const where = `${label(r)} on ${r.model} at eps ${formatEps(r.eps)}`;
    if ((input && /prob|softmax/i.test(input)) || (loss && /prob|softmax(?!-?ce)/i.test(loss))) {
      f.push({ status: 'fail', detail: `${where} computes its loss from probabilities (${input ?? loss}); softmax saturates and hides the gradient — use cross-entropy or margin on logits` });
    } else if (!loss) {
      f.push({ status: 'warn', detail: `${where} does not record params.loss; record the loss (ce, margin, dlr on logits) so reviewers can see it is not on probabilities` });
    } else f.push({ status: 'pass', detail: '' });
  }
  return summarize('C12', f, 'no gradient- or score-based runs', (n) => `all ${n} gradient/score-based runs use a loss on logits`);
}

// ---- C13 the same attacks succeed on the undefended model ----------------------------------------------
function c13(results: ResultsFile): CheckRecord {
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

// ---- C14 per-example worst case over attacks -----------------------------------------------------------
export interface WorstCase {
  model: string;
  /** Pixel units. */
  eps: number;
  norm: 'linf' | 'l2';
  /** Accuracy under the per-example worst case over `runs` (an upper bound when `perExample` is false). */
  accuracy: number;
  /** Examples the per-example worst case was computed on (the run size when aggregate). */
  n: number;
  /** True when every run had per-sample records, so the worst case is exact. */
  perExample: boolean;
  /** The runs combined (all threats, including noise). */
  runs: RunRecord[];
  /** The strongest single run and its accuracy. */
  bestSingle: RunRecord;
}

/**
 * Accuracy when each example counts as robust only if EVERY attack at this eps left it correct
 * (C14; AutoAttack-style worst case). Runs with per-sample records are combined per example over the
 * indices they all cover; runs without them contribute their aggregate accuracy as an upper bound.
 * Returns null when the model has no run at this eps and norm.
 */
export function worstCaseAccuracy(
  results: ResultsFile,
  perSample: PerSampleLoader,
  model: string,
  eps: number,
  norm: 'linf' | 'l2' = 'linf',
): WorstCase | null {
  const runs = results.runs.filter((r) => r.model === model && r.norm === norm && sameEps(r.eps, eps));
  if (!runs.length) return null;
  const bestSingle = strongest(runs);
  const loaded = runs.map((r) => ({ run: r, recs: perSample(r) }));
  const withRecs = loaded.filter((x): x is { run: RunRecord; recs: PerSampleRecord[] } => x.recs !== null && x.recs.length > 0);
  // Runs without records can only bound the worst case from above by their own accuracy.
  let accuracy = Math.min(...loaded.filter((x) => !x.recs || !x.recs.length).map((x) => x.run.robustAccuracy), Infinity);
  let n = bestSingle.n;
  if (withRecs.length) {
    const maps = withRecs.map((x) => correctAfter(x.recs));
    const common = [...maps[0].keys()].filter((i) => maps.every((m) => m.has(i)));
    if (common.length) {
      const robust = common.filter((i) => maps.every((m) => m.get(i) === true)).length;
      accuracy = Math.min(accuracy, robust / common.length);
      n = common.length;
    } else {
      accuracy = Math.min(accuracy, ...withRecs.map((x) => x.run.robustAccuracy));
    }
  }
  return { model, eps, norm, accuracy, n, perExample: withRecs.length === runs.length, runs, bestSingle };
}

function c14(results: ResultsFile, load: PerSampleLoader): CheckRecord {
  if (!results.runs.some((r) => r.perSample)) {
    return { id: 'C14', status: 'skipped', detail: 'no run has per-sample records (run.perSample); save them so the per-example worst case over attacks can be computed' };
  }
  const f: Finding[] = [];
  const groups = groupBy(results.runs, (r) => [r.model, r.norm, epsKey(r.eps)].join('|'));
  let biggestGap: { wc: WorstCase; gap: number } | null = null;
  for (const runs of groups.values()) {
    if (runs.length < 2) continue;
    const wc = worstCaseAccuracy(results, load, runs[0].model, runs[0].eps, runs[0].norm);
    if (!wc) continue;
    if (!wc.perExample) {
      const missing = wc.runs.filter((r) => !load(r)).map((r) => label(r));
      f.push({
        status: 'warn',
        detail: `on ${wc.model} at eps ${formatEps(wc.eps)}, ${missing.join(', ')} lack per-sample records, so the worst case (${pct(wc.accuracy)}) is only an upper bound; save perSample for every run`,
      });
      continue;
    }
    const gap = wc.bestSingle.robustAccuracy - wc.accuracy;
    if (!biggestGap || gap > biggestGap.gap) biggestGap = { wc, gap };
    f.push({ status: 'pass', detail: '' });
  }
  return summarize('C14', f, 'no model has two or more runs at the same eps to combine', (n) => {
    if (!biggestGap) return `per-example worst case computed for ${n} model/eps groups`;
    const { wc, gap } = biggestGap;
    if (gap <= 0) return `per-example worst case computed for ${n} model/eps groups; it equals the best single attack everywhere`;
    return `per-example worst case computed for ${n} model/eps groups; largest gain on ${wc.model} at eps ${formatEps(wc.eps)}: ${pct(wc.accuracy)} vs ${pct(wc.bestSingle.robustAccuracy)} for the best single attack (${label(wc.bestSingle)})${gap > C14_GAP_NOTE ? ' — quote the worst case' : ''}`;
  });
}

// ---- C15 every hyperparameter recorded -----------------------------------------------------------------
function c15(results: ResultsFile): CheckRecord {
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

// ---- C16 random noise is weaker than the attacks -------------------------------------------------------
function c16(results: ResultsFile): CheckRecord {
  const noise = results.runs.filter((r) => r.threat === 'noise');
  if (!noise.length) {
    return { id: 'C16', status: 'skipped', detail: "no 'noise' threat run; add random noise of the same norm and eps (e.g. random signs at 8/255) as a floor for the attacks" };
  }
  const f: Finding[] = [];
  for (const nz of noise) {
    const attacks = results.runs.filter((r) => r.threat !== 'noise' && r.model === nz.model && r.norm === nz.norm && sameEps(r.eps, nz.eps));
    if (!attacks.length) continue;
    const weaker = attacks.filter((a) => a.robustAccuracy > nz.robustAccuracy + C16_TOLERANCE);
    const where = `on ${nz.model} at eps ${formatEps(nz.eps)}`;
    if (weaker.length === attacks.length) {
      f.push({ status: 'fail', detail: `${where}, every attack (best ${pct(strongest(attacks).robustAccuracy)}) is weaker than random noise (${pct(nz.robustAccuracy)}) — the attacks are broken or the gradient is masked` });
    } else if (weaker.length) {
      const w = weaker.reduce((a, b) => (b.robustAccuracy > a.robustAccuracy ? b : a));
      f.push({ status: 'warn', detail: `${where}, ${label(w)} (${pct(w.robustAccuracy)}) is weaker than random noise (${pct(nz.robustAccuracy)}); that attack or gradient mode is ineffective here and should not be cited as evidence` });
    } else f.push({ status: 'pass', detail: '' });
  }
  return summarize('C16', f, "no 'noise' run shares a model and eps with an attack; run noise at the attacks' eps", (n) => `random noise is weaker than every attack in all ${n} comparisons`);
}

// ---- C17 adaptive attack on the full pipeline ----------------------------------------------------------
function c17(results: ResultsFile): CheckRecord {
  const targets = defendedModels(results);
  if (!targets.length) return { id: 'C17', status: 'skipped', detail: 'no defended model in the results; adaptive attacks apply to defenses' };
  const f: Finding[] = targets.map((m) => {
    const adaptive = white(results).filter((r) => r.model === m && isAdaptive(r));
    const full = adaptive.filter((r) => gradientOf(r) !== 'natural');
    if (full.length) return { status: 'pass', detail: `${label(strongest(full))} on ${m}` };
    if (adaptive.length)
      return { status: 'warn', detail: `the adaptive attack on ${m} (${label(adaptive[0])}) used only the natural gradient; run APGD-DLR through the BPDA surrogate of the full pipeline` };
    return { status: 'fail', detail: `${m} was never attacked adaptively; run APGD-DLR (or PGD with a margin loss) through the full pipeline with a BPDA surrogate` };
  });
  return summarize('C17', f, '', () => `adaptive attacks ran on every defended model: ${f.map((x) => x.detail).join('; ')}`);
}

/** Compute C1–C17 for a results file. `perSample` loads a run's per-example records (null when absent). */
export function computeChecks(results: ResultsFile, perSample: (run: RunRecord) => PerSampleRecord[] | null): CheckRecord[] {
  const cache = new Map<RunRecord, PerSampleRecord[] | null>();
  const load: PerSampleLoader = (run) => {
    if (!cache.has(run)) cache.set(run, run.perSample ? perSample(run) : null);
    return cache.get(run) ?? null;
  };
  const notes = scaleNotes(results);
  const checks = [
    c1(results),
    c2(results),
    c3(results),
    c4(results),
    c5(results),
    c6(results, load),
    c7(results),
    c8(results),
    c9(results),
    c10(results),
    c11(results),
    c12(results),
    c13(results),
    c14(results, load),
    c15(results),
    c16(results),
    c17(results),
  ];
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
