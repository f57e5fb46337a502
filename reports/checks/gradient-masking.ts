/**
 * Whether the gradient an attacker used could be trusted (Athalye et al. 2018): EOT on a randomized defense (C9),
 * several BPDA surrogates (C10), zero or NaN input gradients (C11), losses on logits (C12), and an adaptive attack
 * on the full pipeline (C17).
 */
import type { CheckRecord, ResultsFile } from '../../src/results/schema';
import { formatEps, pct } from '../format';
import { gradientOf, groupBy, isAdaptive, isStochasticModel, modelById, strParam } from '../runs';
import { Finding, summarize, white, strongest, label, modelsWithRuns, defendedModels, Check } from './common';
import { C9_MIN_EOT_SAMPLES, C9_CLEAN_SPREAD, C10_MIN_BPDA_MODES, C11_ZERO_FRACTION_WARN, C11_ZERO_FRACTION_MASKED } from './thresholds';

// ---- C9 randomized defense -> EOT ----------------------------------------------------------------------
function randomnessHandled(results: ResultsFile): CheckRecord {
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
function severalBpdaSurrogates(results: ResultsFile): CheckRecord {
  const f: Finding[] = [];
  let checked = 0;
  for (const m of defendedModels(results)) {
    const wb = white(results).filter((r) => r.model === m);
    const modes = [...new Set(wb.map(gradientOf))];
    // Differentiable end to end, BPDA does not apply: the defense declares no bpda mode for it (its `true` is exact
    // backprop, e.g. a DFA-trained head without Sign or OPU), or, in results without declared modes, it was
    // attacked only through `true`.
    const declared = modelById(results, m)?.gradientModes;
    const differentiable = Array.isArray(declared) ? !declared.some((g) => /^bpda/i.test(String(g))) : modes.every((g) => g === 'true');
    if (!wb.length || differentiable) continue;
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
function gradientNotMasked(results: ResultsFile): CheckRecord {
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
function lossOnLogits(results: ResultsFile): CheckRecord {
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

// ---- C17 adaptive attack on the full pipeline ----------------------------------------------------------
function adaptiveAttack(results: ResultsFile): CheckRecord {
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

/** C9: randomness handled (docs/method.md §6). */
export const randomnessHandledCheck: Check = { id: 'C9', name: 'randomnessHandled', title: 'randomness handled', compute: randomnessHandled };
/** C10: several BPDA surrogates (docs/method.md §6). */
export const severalBpdaSurrogatesCheck: Check = { id: 'C10', name: 'severalBpdaSurrogates', title: 'several BPDA surrogates', compute: severalBpdaSurrogates };
/** C11: gradients not masked (docs/method.md §6). */
export const gradientNotMaskedCheck: Check = { id: 'C11', name: 'gradientNotMasked', title: 'gradients not masked', compute: gradientNotMasked };
/** C12: logits, not probabilities (docs/method.md §6). */
export const lossOnLogitsCheck: Check = { id: 'C12', name: 'lossOnLogits', title: 'logits, not probabilities', compute: lossOnLogits };
/** C17: adaptive attack (docs/method.md §6). */
export const adaptiveAttackCheck: Check = { id: 'C17', name: 'adaptiveAttack', title: 'adaptive attack', compute: adaptiveAttack };
