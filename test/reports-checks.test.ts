/** Checks C1–C17 on small hand-made results: each should pass, warn, fail or skip as designed. */
import type { CheckRecord, PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { computeChecks, formatCheck, worstCaseAccuracy } from '../reports/checks';

const BASE = 'vgg-none';
const DEF = 'vgg-optical';
const E8 = 8 / 255;

function run(p: Partial<RunRecord> & { model: string; attack: string }): RunRecord {
  return {
    threat: 'white-box',
    norm: 'linf',
    eps: E8,
    epsSpace: 'pixel',
    gradient: p.model === DEF ? 'bpda-true' : 'true',
    n: 100,
    cleanAccuracy: 0.8,
    robustAccuracy: 0.1,
    ...p,
    params: { seed: 1, loss: 'ce', ...(p.params ?? {}) },
  };
}

/** A results file where every check can run and passes. */
function goodResults(): ResultsFile {
  const runs: RunRecord[] = [];
  for (const m of [BASE, DEF]) {
    const grads = m === DEF ? ['bpda-random', 'bpda-true'] : ['true'];
    for (const g of grads) {
      const weak = g === 'bpda-random' ? 0.2 : 0;
      for (const [eps, f, pg] of [[2 / 255, 0.5, 0.4], [E8, 0.3, 0.1]] as const) {
        runs.push(run({ model: m, attack: 'fgsm', gradient: g, eps, robustAccuracy: f + weak, params: { steps: 1, stepSize: eps } }));
        runs.push(run({ model: m, attack: 'pgd', gradient: g, eps, robustAccuracy: pg + weak, params: { steps: 50, stepSize: eps / 4 } }));
      }
    }
    runs.push(run({ model: m, attack: 'pgd', eps: 0.5, robustAccuracy: 0, params: { steps: 100, stepSize: 0.05 } }));
    runs.push(run({ model: m, attack: 'apgd-dlr', robustAccuracy: 0.09, params: { steps: 100, loss: 'dlr' } }));
    runs.push(run({ model: m, attack: 'noise', threat: 'noise', gradient: undefined, robustAccuracy: 0.75, params: {} }));
    runs.push(run({ model: m, attack: 'square', threat: 'black-box-score', gradient: undefined, robustAccuracy: 0.2, params: { maxQueries: 5000, loss: 'margin' } }));
    runs.push(run({ model: m, attack: 'rays', threat: 'decision', gradient: undefined, robustAccuracy: 0.3, params: { maxQueries: 10000 } }));
  }
  runs.push(run({ model: DEF, attack: 'pgd', params: { steps: 200, stepSize: E8 / 8 }, robustAccuracy: 0.095 }));
  runs.push(run({ model: DEF, attack: 'pgd', threat: 'transfer', source: BASE, gradient: undefined, robustAccuracy: 0.5, commonCorrect: { n: 70, robustAccuracy: 0.55 } }));
  for (const r of runs) if (r.threat === 'white-box') r.gradientStats = { zeroFraction: 0.001, nanFraction: 0 };
  return {
    schema: 'opulab.results/1',
    environment: { backend: 'cpu', workers: 1, opulab: '0.1.0', node: 'v20', seed: 0 },
    models: [
      { id: BASE, defense: 'none', cleanAccuracy: 0.8, n: 100 },
      { id: DEF, defense: 'optical', cleanAccuracy: 0.8, n: 100 },
    ],
    runs,
    checks: [],
  };
}

const noSamples = (): PerSampleRecord[] | null => null;

function check(results: ResultsFile, id: string, load: (r: RunRecord) => PerSampleRecord[] | null = noSamples): CheckRecord {
  const c = computeChecks(results, load).find((x) => x.id === id);
  if (!c) throw new Error(`no ${id}`);
  return c;
}

function find(results: ResultsFile, pred: (r: RunRecord) => boolean): RunRecord {
  const r = results.runs.find(pred);
  if (!r) throw new Error('no such run');
  return r;
}

/** Per-sample records: `broken` indices succeed; all 10 examples correct on clean. */
function samples(broken: number[], n = 10): PerSampleRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    label: i % 10,
    cleanPrediction: i % 10,
    adversarialPrediction: broken.includes(i) ? (i + 1) % 10 : i % 10,
    success: broken.includes(i),
    eps: E8,
  }));
}

describe('computeChecks on a complete, honest evaluation', () => {
  it('returns C1..C17 in order, every one pass, one sentence each', () => {
    const checks = computeChecks(goodResults(), noSamples);
    expect(checks.map((c) => c.id)).toEqual(Array.from({ length: 17 }, (_, i) => `C${i + 1}`));
    const notPass = checks.filter((c) => c.status !== 'pass' && c.id !== 'C14');
    expect(notPass.map(formatCheck)).toEqual([]);
    // C14 needs per-sample records.
    expect(checks[13].status).toBe('skipped');
    for (const c of checks) expect(c.detail).not.toMatch(/\n/);
  });
});

describe('individual checks', () => {
  it('C1 fails without clean accuracy, warns when robust > clean', () => {
    const r = goodResults();
    (r.runs[0] as { cleanAccuracy?: number }).cleanAccuracy = undefined;
    expect(check(r, 'C1').status).toBe('fail');
    const w = goodResults();
    w.runs[0].robustAccuracy = 0.95;
    const c = check(w, 'C1');
    expect(c.status).toBe('warn');
    expect(c.detail).toContain(BASE);
  });

  it('C2 fails when PGD is weaker than FGSM, naming model, attack and eps', () => {
    const r = goodResults();
    find(r, (x) => x.model === DEF && x.attack === 'pgd' && x.gradient === 'bpda-true' && x.eps === E8 && x.params.steps === 50).robustAccuracy = 0.45;
    find(r, (x) => x.model === DEF && x.attack === 'pgd' && x.gradient === 'bpda-true' && x.eps === E8 && x.params.steps === 200).robustAccuracy = 0.42;
    find(r, (x) => x.model === DEF && x.attack === 'apgd-dlr').robustAccuracy = 0.5;
    const c = check(r, 'C2');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain(DEF);
    expect(c.detail).toContain('8/255');
    expect(c.detail).toMatch(/PGD.*45\.0%.*FGSM 30\.0%/);
    // a strong APGD run must not hide a broken PGD run at the same eps
    const hidden = goodResults();
    find(hidden, (x) => x.model === DEF && x.attack === 'pgd' && x.gradient === 'bpda-true' && x.eps === E8 && x.params.steps === 50).robustAccuracy = 0.6;
    find(hidden, (x) => x.model === DEF && x.attack === 'apgd-dlr').robustAccuracy = 0.01;
    expect(check(hidden, 'C2').status).toBe('fail');
    const w = goodResults();
    find(w, (x) => x.model === BASE && x.attack === 'pgd' && x.eps === E8).robustAccuracy = 0.305;
    find(w, (x) => x.model === BASE && x.attack === 'apgd-dlr').robustAccuracy = 0.31;
    expect(check(w, 'C2').status).toBe('warn');
    const s = goodResults();
    s.runs = s.runs.filter((x) => x.attack !== 'fgsm');
    expect(check(s, 'C2').status).toBe('skipped');
  });

  it('C3 fails when accuracy rises with eps, warns within tolerance, skips a single eps', () => {
    const r = goodResults();
    find(r, (x) => x.model === BASE && x.attack === 'fgsm' && x.eps === E8).robustAccuracy = 0.6;
    expect(check(r, 'C3').status).toBe('fail');
    const w = goodResults();
    find(w, (x) => x.model === BASE && x.attack === 'fgsm' && x.eps === E8).robustAccuracy = 0.505;
    expect(check(w, 'C3').status).toBe('warn');
    const s = goodResults();
    s.runs = s.runs.filter((x) => x.eps === E8);
    expect(check(s, 'C3').status).toBe('skipped');
  });

  it('C4 passes near 0, warns at chance, fails above chance, skips without an unbounded run', () => {
    const r = goodResults();
    const unb = find(r, (x) => x.model === DEF && x.eps === 0.5);
    unb.robustAccuracy = 0.08;
    expect(check(r, 'C4').status).toBe('warn');
    unb.robustAccuracy = 0.4;
    const c = check(r, 'C4');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain(DEF);
    r.runs = r.runs.filter((x) => x.eps < 0.3);
    expect(check(r, 'C4').detail).toMatch(/no white-box run with eps >= 0\.3/);
    expect(check(r, 'C4').status).toBe('skipped');
  });

  it('C5 compares runs differing only in steps', () => {
    const r = goodResults();
    find(r, (x) => x.params.steps === 200).robustAccuracy = 0.08; // 2 points below 50 steps
    expect(check(r, 'C5').status).toBe('warn');
    find(r, (x) => x.params.steps === 200).robustAccuracy = 0.02;
    const c = check(r, 'C5');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/200 steps gives 2\.0% vs 10\.0% with 50 steps/);
    r.runs = r.runs.filter((x) => x.params.steps !== 200);
    expect(check(r, 'C5').status).toBe('skipped');
  });

  it('C5 pairs a relabelled rerun with the run it doubles (same attack, parameters and EOT; more steps and restarts)', () => {
    const r = goodResults();
    r.runs = r.runs.filter((x) => x.params.steps !== 200);
    const std = { randomStart: true, relStepSize: 0.25 };
    r.runs.push(run({ model: DEF, attack: 'pgd-standard', method: 'pgd', robustAccuracy: 0.1, params: { ...std, steps: 50, restarts: 2, stepSize: E8 / 4 } }));
    r.runs.push(run({ model: DEF, attack: 'pgd-standard-2x', method: 'pgd', robustAccuracy: 0.04, params: { ...std, steps: 100, restarts: 4, stepSize: E8 / 4 } }));
    const c = check(r, 'C5');
    expect(c.status).toBe('fail');
    expect(c.detail).toBe(
      `on ${DEF}, PGD (bpda-true) at eps 8/255 (0.0314): PGD-standard-2x (100 steps x 4 restarts) gives 4.0% vs 10.0% with PGD-standard (50 steps x 2 restarts) (6.0 points) — far from converged; the reported robustness is an overestimate, raise steps/restarts.`,
    );
    // converged: within a point
    find(r, (x) => x.attack === 'pgd-standard-2x').robustAccuracy = 0.095;
    expect(check(r, 'C5').status).toBe('pass');
    // a rerun that changes more than the effort (no random start) is another attack, not a convergence test
    find(r, (x) => x.attack === 'pgd-standard-2x').params.randomStart = false;
    expect(check(r, 'C5').status).toBe('skipped');
    find(r, (x) => x.attack === 'pgd-standard-2x').params.randomStart = true;
    // so is one with another EOT sample count
    find(r, (x) => x.attack === 'pgd-standard-2x').eot = { samples: 5, evalPasses: 2 };
    expect(check(r, 'C5').status).toBe('skipped');
    // and runs of two different attacks never pair, whatever their labels
    delete find(r, (x) => x.attack === 'pgd-standard-2x').eot;
    find(r, (x) => x.attack === 'pgd-standard-2x').method = 'apgd-ce';
    expect(check(r, 'C5').status).toBe('skipped');
  });

  it('C6 fails when black-box beats white-box, warns on per-example misses', () => {
    const r = goodResults();
    find(r, (x) => x.model === DEF && x.attack === 'square').robustAccuracy = 0.01;
    expect(check(r, 'C6').status).toBe('fail');
    const w = goodResults();
    const sq = find(w, (x) => x.model === DEF && x.attack === 'square');
    sq.perSample = 'sq.jsonl';
    for (const x of w.runs) if (x.model === DEF && x.threat === 'white-box' && x.eps === E8) x.perSample = 'wb.jsonl';
    const load = (x: RunRecord): PerSampleRecord[] | null => (x.perSample === 'sq.jsonl' ? samples([0, 1, 9]) : x.perSample ? samples([0, 1]) : null);
    const c = check(w, 'C6', load);
    expect(c.status).toBe('warn');
    expect(c.detail).toMatch(/breaks 1 of 10 examples/);
    const ok = (x: RunRecord): PerSampleRecord[] | null => (x.perSample ? samples([0, 1]) : null);
    expect(check(w, 'C6', ok).status).toBe('pass');
    const s = goodResults();
    s.runs = s.runs.filter((x) => x.threat === 'white-box');
    expect(check(s, 'C6').status).toBe('skipped');
  });

  it('C7 warns without a decision-based attack and fails without any black-box attack', () => {
    const r = goodResults();
    r.runs = r.runs.filter((x) => x.threat !== 'decision');
    expect(check(r, 'C7').status).toBe('warn');
    r.runs = r.runs.filter((x) => x.threat !== 'black-box-score');
    expect(check(r, 'C7').status).toBe('fail');
  });

  it('C8 needs transfer from an undefended source', () => {
    const r = goodResults();
    find(r, (x) => x.threat === 'transfer').source = DEF;
    expect(check(r, 'C8').status).toBe('warn');
    r.runs = r.runs.filter((x) => x.threat !== 'transfer');
    expect(check(r, 'C8').status).toBe('fail');
    r.models[1].defense = 'none';
    r.runs = r.runs.map((x) => ({ ...x, model: BASE }));
    expect(check(r, 'C8').status).toBe('skipped');
  });

  it('C9 demands EOT on a stochastic model and flags varying clean accuracy', () => {
    const r = goodResults();
    r.models[1].stochastic = true;
    expect(check(r, 'C9').status).toBe('fail');
    for (const x of r.runs) if (x.model === DEF) x.eot = { samples: 8, evalPasses: 1 };
    expect(check(r, 'C9').status).toBe('warn');
    for (const x of r.runs) if (x.model === DEF) x.eot = { samples: 8, evalPasses: 3 };
    expect(check(r, 'C9').status).toBe('pass');
    const v = goodResults();
    v.runs[3].cleanAccuracy = 0.77;
    const c = check(v, 'C9');
    expect(c.status).toBe('warn');
    expect(c.detail).toMatch(/looks randomized/);
  });

  it('C10 wants several BPDA surrogates on the non-differentiable model', () => {
    const r = goodResults();
    r.runs = r.runs.filter((x) => x.gradient !== 'bpda-random');
    expect(check(r, 'C10').status).toBe('warn');
    for (const x of r.runs) if (x.model === DEF && x.threat === 'white-box') x.gradient = 'natural';
    expect(check(r, 'C10').status).toBe('fail');
    const s = goodResults();
    for (const x of s.runs) if (x.threat === 'white-box') x.gradient = 'true';
    expect(check(s, 'C10').status).toBe('skipped');
  });

  it('C10 skips a defended model its defense declares differentiable end to end (no bpda mode), attacked through natural and true', () => {
    // a DFA-trained head without Sign or OPU: its natural gradient is the synthetic one, `true` is exact backprop
    const r = goodResults();
    for (const x of r.runs) if (x.model === DEF && x.threat === 'white-box') x.gradient = x.gradient === 'bpda-true' ? 'true' : 'natural';
    expect(check(r, 'C10').status).toBe('fail');
    const def = r.models.find((m) => m.id === DEF)!;
    def.gradientModes = ['natural', 'true'];
    expect(check(r, 'C10').status).toBe('skipped');
    // the same runs on a model that declares bpda modes: it was not attacked through any of them
    def.gradientModes = ['natural', 'bpda-random', 'bpda-true', 'true'];
    expect(check(r, 'C10').status).toBe('fail');
    // declared modes decide over the old rule: attacked only through `true`, but a bpda mode exists
    for (const x of r.runs) if (x.model === DEF && x.threat === 'white-box') x.gradient = 'true';
    expect(check(r, 'C10').status).toBe('fail');
    delete def.gradientModes;
    expect(check(r, 'C10').status).toBe('skipped');
  });

  it('C11 flags NaN and masked gradients', () => {
    const r = goodResults();
    r.runs[0].gradientStats = { zeroFraction: 0.3, nanFraction: 0 };
    expect(check(r, 'C11').status).toBe('warn');
    r.runs[0].gradientStats = { zeroFraction: 0, nanFraction: 0.01 };
    expect(check(r, 'C11').status).toBe('fail');
    const m = goodResults();
    for (const x of m.runs) if (x.model === BASE && x.gradientStats) x.gradientStats = { zeroFraction: 1, nanFraction: 0 };
    expect(check(m, 'C11').status).toBe('fail'); // masked and no other gradient mode on that model
    for (const x of m.runs) delete x.gradientStats;
    expect(check(m, 'C11').status).toBe('skipped');
  });

  it('C12 fails on a probability loss and warns when the loss is unrecorded', () => {
    const r = goodResults();
    r.runs[1].params.loss = 'prob';
    expect(check(r, 'C12').status).toBe('fail');
    delete r.runs[1].params.loss;
    expect(check(r, 'C12').status).toBe('warn');
  });

  it('C13 fails when the attack does not break the undefended model; skips without one', () => {
    const r = goodResults();
    for (const x of r.runs) if (x.model === BASE && x.attack === 'square') x.robustAccuracy = 0.7;
    const c = check(r, 'C13');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/Square/);
    r.runs = r.runs.filter((x) => !(x.model === BASE && x.attack === 'rays'));
    r.models[0].defense = 'optical';
    expect(check(r, 'C13').status).toBe('skipped');
  });

  it('C14 computes the per-example worst case, warns when records are missing', () => {
    const r = goodResults();
    const atE8 = r.runs.filter((x) => x.model === BASE && x.eps === E8);
    // fgsm breaks {0,1}, pgd {1,2}: worst case breaks {0,1,2} of 10 -> 70%, though each alone leaves 80%.
    const broken: Record<string, number[]> = { fgsm: [0, 1], pgd: [1, 2] };
    for (const x of atE8) if (broken[x.attack]) {
      x.perSample = `${x.attack}.jsonl`;
      x.robustAccuracy = 0.8;
    }
    const load = (x: RunRecord): PerSampleRecord[] | null => (x.perSample ? samples(broken[x.attack]) : null);
    const sub: ResultsFile = { ...r, runs: atE8.filter((x) => broken[x.attack]) };
    const wc = worstCaseAccuracy(sub, load, BASE, E8);
    expect(wc).not.toBeNull();
    expect(wc!.accuracy).toBeCloseTo(0.7, 10);
    expect(wc!.n).toBe(10);
    expect(wc!.perExample).toBe(true);
    expect(check(sub, 'C14', load).status).toBe('pass');
    expect(check(sub, 'C14', load).detail).toMatch(/70\.0% vs 80\.0%/);
    // Other runs at 8/255 lack records: the worst case is only an upper bound.
    expect(check(r, 'C14', load).status).toBe('warn');
    expect(worstCaseAccuracy(r, load, BASE, E8)!.perExample).toBe(false);
    expect(worstCaseAccuracy(r, load, BASE, 0.123)).toBeNull();
  });

  it('C15 fails on a missing eps space and warns on a missing seed or step size', () => {
    const r = goodResults();
    delete r.runs[1].params.seed;
    expect(check(r, 'C15').status).toBe('warn');
    delete r.runs[1].params.stepSize;
    expect(check(r, 'C15').detail).toMatch(/seed, stepSize/);
    (r.runs[2] as { epsSpace?: string }).epsSpace = undefined;
    expect(check(r, 'C15').status).toBe('fail');
  });

  it('C16 compares attacks with random noise of the same size', () => {
    const r = goodResults();
    find(r, (x) => x.model === DEF && x.threat === 'noise').robustAccuracy = 0.25;
    const c = check(r, 'C16');
    expect(c.status).toBe('warn');
    expect(c.detail).toMatch(/weaker than random noise/);
    find(r, (x) => x.model === DEF && x.threat === 'noise').robustAccuracy = 0.0;
    expect(check(r, 'C16').status).toBe('fail');
    r.runs = r.runs.filter((x) => x.threat !== 'noise');
    expect(check(r, 'C16').status).toBe('skipped');
  });

  it('C17 needs an adaptive attack through the full pipeline', () => {
    const r = goodResults();
    find(r, (x) => x.model === DEF && x.attack === 'apgd-dlr').gradient = 'natural';
    expect(check(r, 'C17').status).toBe('warn');
    r.runs = r.runs.filter((x) => !(x.model === DEF && x.attack === 'apgd-dlr'));
    const c = check(r, 'C17');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain(DEF);
  });
});
