/**
 * Whether the attacks were run to strength: iterative beats single-step (C2), success grows with eps (C3), an
 * unbounded attack wins (C4), more effort changes nothing (C5), and every attack beats random noise (C16).
 */
import type { CheckRecord, ResultsFile, RunRecord } from '../../src/results/schema';
import { attackLabel, formatEps, pct } from '../format';
import { epsKey, gradientOf, groupBy, isIterative, isSingleStep, numParam, sameEps, strParam } from '../runs';
import { Finding, summarize, white, strongest, label, numClasses, modelsWithRuns, Check } from './common';
import { C2_TOLERANCE, C3_TOLERANCE, C4_UNBOUNDED_LINF_EPS, C4_PASS_ACCURACY, isUnboundedEps, C5_CONVERGED_DELTA, C5_FAIL_DELTA, C16_TOLERANCE } from './thresholds';

// ---- C2 iterative beats single step --------------------------------------------------------------------
function iterativeBeatsSingleStep(results: ResultsFile): CheckRecord {
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

function monotoneInEps(results: ResultsFile): CheckRecord {
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
function unboundedAttackSucceeds(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  const unbounded = white(results).filter(isUnboundedEps);
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

/** Parameters that say how much effort a run spent (or where it started its stream), not what attack it is. */
const EFFORT_PARAMS = new Set(['steps', 'iterations', 'restarts', 'stepSize', 'relStepSize', 'seed', 'batchSize']);

/**
 * One attack, configured alike but for its effort: the registered attack (`method`, so a relabelled rerun such as
 * `pgd-standard-2x` meets `pgd-standard`), every parameter but the effort ones, the gradient path, eps and EOT.
 */
function convergenceKey(r: RunRecord): string {
  const params = Object.entries(r.params)
    .filter(([k]) => !EFFORT_PARAMS.has(k))
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([r.model, r.method ?? r.attack, r.norm, gradientOf(r), epsKey(r.eps), params, r.eot?.samples ?? null]);
}

function converged(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  for (const runs of groupBy(white(results), convergenceKey).values()) {
    const configs = new Set(runs.map((r) => `${numParam(r, 'steps', 'iterations')}x${numParam(r, 'restarts') ?? 1}`));
    if (configs.size < 2) continue;
    const least = runs.reduce((a, b) => (effort(b) < effort(a) ? b : a));
    const most = runs.reduce((a, b) => (effort(b) > effort(a) ? b : a));
    const delta = Math.abs(least.robustAccuracy - most.robustAccuracy);
    const relabelled = least.attack !== most.attack;
    const cfg = (r: RunRecord): string => {
      const restarts = numParam(r, 'restarts') ?? 1;
      const effortText = `${numParam(r, 'steps', 'iterations') ?? 1} steps${restarts > 1 ? ` x ${restarts} restarts` : ''}`;
      return relabelled ? `${attackLabel(r.attack)} (${effortText})` : effortText;
    };
    const name = relabelled ? attackLabel(most.method ?? most.attack) : attackLabel(most.attack);
    const text = `on ${most.model}, ${name} (${gradientOf(most)}) at eps ${formatEps(most.eps)}: ${cfg(most)} gives ${pct(most.robustAccuracy)} vs ${pct(least.robustAccuracy)} with ${cfg(least)} (${(delta * 100).toFixed(1)} points)`;
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

// ---- C16 random noise is weaker than the attacks -------------------------------------------------------
function beatsRandomNoise(results: ResultsFile): CheckRecord {
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

/** C2: iterative beats single-step (docs/method.md §6). */
export const iterativeBeatsSingleStepCheck: Check = { id: 'C2', name: 'iterativeBeatsSingleStep', title: 'iterative beats single-step', compute: iterativeBeatsSingleStep };
/** C3: monotone in eps (docs/method.md §6). */
export const monotoneInEpsCheck: Check = { id: 'C3', name: 'monotoneInEps', title: 'monotone in eps', compute: monotoneInEps };
/** C4: unbounded attack succeeds (docs/method.md §6). */
export const unboundedAttackSucceedsCheck: Check = { id: 'C4', name: 'unboundedAttackSucceeds', title: 'unbounded attack succeeds', compute: unboundedAttackSucceeds };
/** C5: converged (docs/method.md §6). */
export const convergedCheck: Check = { id: 'C5', name: 'converged', title: 'converged', compute: converged };
/** C16: beats random noise (docs/method.md §6). */
export const beatsRandomNoiseCheck: Check = { id: 'C16', name: 'beatsRandomNoise', title: 'beats random noise', compute: beatsRandomNoise };
