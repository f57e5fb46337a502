/** The verdicts on the paper's five claims (reports/claims.ts), on small results worked by hand. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { ModelRecord, PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { assessClaims, REPRODUCTION_MODELS, type ClaimAssessment } from '../reports/claims';
import { renderMarkdown } from '../reports/markdown';
import { ablationSummary } from '../reports/ablation-summary';

const E = 8 / 255;
const N = 20;

/** Which of the N images an attack left correct: k of them, from `from` on (wrapping). */
function left(k: number, from = 0): boolean[] {
  const v = new Array<boolean>(N).fill(false);
  for (let i = 0; i < k; i++) v[(from + i) % N] = true;
  return v;
}

interface Fixture {
  results: ResultsFile;
  correct: Map<string, boolean[]>;
}

function model(name: string, clean: number, oracle?: string[]): ModelRecord {
  return { id: `id-${name}`, name, defense: name, cleanAccuracy: clean, n: 10000, ...(oracle ? { oracleGradientModes: oracle } : {}) };
}

function fixture(): Fixture {
  const correct = new Map<string, boolean[]>();
  const runs: RunRecord[] = [];
  const add = (name: string, attack: string, threat: RunRecord['threat'], gradient: string | undefined, ok: boolean[], extra: Partial<RunRecord> = {}): void => {
    const file = `${name}-${attack}-${gradient ?? ''}-${JSON.stringify(extra.params ?? {})}-${runs.length}`;
    correct.set(file, ok);
    runs.push({
      model: `id-${name}`,
      attack,
      threat,
      norm: 'linf',
      eps: E,
      epsSpace: 'pixel',
      params: {},
      n: N,
      cleanAccuracy: 1,
      robustAccuracy: ok.filter(Boolean).length / N,
      ...(gradient ? { gradient } : {}),
      perSample: file,
      ...extra,
    });
  };
  add('baseline', 'pgd', 'white-box', 'natural', left(0));
  // optical: each non-oracle mode leaves 15 images, shifted, so together they leave 12 (images 3..14)
  add('optical', 'pgd', 'white-box', 'natural', left(15, 0));
  add('optical', 'pgd', 'white-box', 'bpda-random', left(15, 3));
  add('optical', 'apgd-ce', 'white-box', 'bpda-estimated:2000', left(12, 3));
  add('optical', 'pgd', 'white-box', 'bpda-true', left(2, 5));
  // black-box at 8/256: optical resists, dfa-only does not
  const bb = { eps: 8 / 256 };
  add('optical', 'square', 'black-box-score', undefined, left(16), bb);
  add('optical', 'bandits', 'black-box-score', undefined, left(17), { ...bb, params: { fdEta: 0.1 } });
  add('optical', 'bandits', 'black-box-score', undefined, left(18), { ...bb, params: { fdEta: 1 } });
  add('dfa-only', 'square', 'black-box-score', undefined, left(2), bb);
  add('dfa-only', 'bandits', 'black-box-score', undefined, left(2), { ...bb, params: { fdEta: 0.1 } });
  add('dfa-only', 'bandits', 'black-box-score', undefined, left(2), { ...bb, params: { fdEta: 1 } });
  // transfer PGD from the surrogate at normalized eps 0.04 (and 0.02, which the rule does not read)
  const transfer = (name: string, common: number, eps = 0.04): void =>
    add(name, 'transfer-pgd', 'transfer', undefined, left(10), { epsSpace: 'normalized', epsInSpace: eps, eps: eps * 0.5, source: 'id-surrogate', commonCorrect: { n: 800, robustAccuracy: common } });
  transfer('baseline', 0.1);
  transfer('optical', 0.5);
  transfer('dfa-only', 0.3);
  transfer('optical', 0.01, 0.02);
  const results: ResultsFile = {
    schema: 'opulab.results/2',
    environment: { backend: 'cpu', workers: 1, opulab: '0', node: 'v20', seed: 0 },
    models: [model('baseline', 0.9), model('optical', 0.89, ['bpda-true', 'true']), model('optical-physical', 0.85, ['bpda-true', 'true']), model('dfa-only', 0.88), model('surrogate', 0.9)],
    runs,
    checks: [],
  };
  return { results, correct };
}

function loaderOf(f: Fixture) {
  return (r: RunRecord): PerSampleRecord[] | null => {
    const ok = r.perSample ? f.correct.get(r.perSample) : undefined;
    return ok ? ok.map((c, index) => ({ index, label: 1, cleanPrediction: 1, adversarialPrediction: c ? 1 : 2, success: !c, eps: r.eps })) : null;
  };
}

function assess(f: Fixture): Record<number, ClaimAssessment> {
  return Object.fromEntries(assessClaims(f.results, loaderOf(f)).map((c) => [c.claim, c]));
}

/** Replace which images one run (model, gradient or attack + fdEta) left correct. */
function setRun(f: Fixture, modelName: string, match: (r: RunRecord) => boolean, ok: boolean[]): void {
  const r = f.results.runs.find((x) => x.model === `id-${modelName}` && match(x))!;
  f.correct.set(r.perSample!, ok);
  r.robustAccuracy = ok.filter(Boolean).length / N;
}

describe('assessClaims', () => {
  test('every claim holds, with the deciding numbers', () => {
    const c = assess(fixture());
    expect(Object.values(c).map((x) => x.verdict)).toEqual(['holds', 'holds', 'holds', 'holds', 'holds']);
    expect(c[1].deciding).toBe('clean accuracy: baseline 90.0%, optical 89.0% (−1.0); the physical-mode model 85.0% (−5.0)');
    // images 3..14 survive every non-oracle mode: 12 of 20; with the oracle (images 5, 6 left) 2 of 20
    expect(c[2].deciding).toMatch(/^white-box worst case at 8\/255: optical 60\.0% over every mode but the oracle \(bpda-estimated:2000, bpda-random, natural; 20 images\), 10\.0% with the oracle \(bpda-true, true\)/);
    expect(c[2].deciding).toMatch(/baseline 0\.0%; gap \+60\.0$/);
    expect(c[3].deciding).toBe('optical, white-box worst case at 8/255: through the natural (DFA) gradient 75.0%, through bpda-true 10.0% (natural +65.0)');
    // the per-example worst case over the three black-box runs: 16 of 20 on optical, 2 of 20 on dfa-only
    expect(c[4].deciding).toMatch(/optical 80\.0% \(20 images\), dfa-only 10\.0% \(20 images\); gap \+70\.0$/);
    expect(c[5].deciding).toBe('transfer PGD from the surrogate at normalized eps 0.04, common-correct images: baseline 10.0%, optical 50.0% (+40.0), dfa-only 30.0% (+20.0)');
  });

  test('claim 1: a cost between 2 and 10 points, and more than 10', () => {
    const f = fixture();
    f.results.models[1].cleanAccuracy = 0.83;
    expect(assess(f)[1].verdictText).toBe('holds at a cost of 7.0 points');
    f.results.models[1].cleanAccuracy = 0.79;
    expect(assess(f)[1].verdict).toBe('does not hold');
    f.results.models[1].cleanAccuracy = 0.885;
    expect(assess(f)[1].verdict).toBe('holds');
  });

  test('claim 2: broken by one non-oracle mode holds only against an attacker without it; broken by two, not at all', () => {
    const f = fixture();
    setRun(f, 'optical', (r) => r.gradient === 'bpda-estimated:2000', left(1, 3));
    const c = assess(f)[2];
    expect(c.verdict).toBe('holds only against');
    // without bpda-estimated:2000, images 3..14 survive natural and bpda-random
    expect(c.verdictText).toBe('holds only against an attacker without bpda-estimated:2000 (60.0% without it)');
    setRun(f, 'optical', (r) => r.gradient === 'bpda-random', left(1, 3));
    expect(assess(f)[2].verdict).toBe('does not hold');
    // the oracle alone does not decide it: a model broken only by bpda-true still holds
    const g = fixture();
    setRun(g, 'optical', (r) => r.gradient === 'bpda-true', left(0));
    expect(assess(g)[2].verdict).toBe('holds');
  });

  test('claim 3: holds weakly between 2 and 10 points; does not hold within 2 or below', () => {
    const f = fixture();
    setRun(f, 'optical', (r) => r.gradient === 'natural', left(3, 0));
    expect(assess(f)[3].verdictText).toBe('holds weakly (5.0 points)');
    setRun(f, 'optical', (r) => r.gradient === 'natural', left(2, 0));
    expect(assess(f)[3].verdict).toBe('does not hold');
  });

  test('claim 4: only some attacks are resisted -> holds only against them, the variants told apart', () => {
    const f = fixture();
    setRun(f, 'optical', (r) => r.attack === 'square', left(2));
    setRun(f, 'optical', (r) => r.params.fdEta === 0.1, left(3));
    const c = assess(f)[4];
    expect(c.verdict).toBe('holds only against');
    expect(c.verdictText).toBe('holds only against Bandits-TD fdEta 1 (90.0% against 10.0%)');
    setRun(f, 'optical', (r) => r.params.fdEta === 1, left(3));
    expect(assess(f)[4].verdict).toBe('does not hold');
  });

  test('claim 5: only the optical model clear of the baseline -> the OPU, not the training', () => {
    const f = fixture();
    f.results.runs.find((r) => r.model === 'id-dfa-only' && r.threat === 'transfer')!.commonCorrect = { n: 800, robustAccuracy: 0.15 };
    expect(assess(f)[5].verdict).toBe('holds only for the optical model');
    f.results.runs.find((r) => r.model === 'id-optical' && r.threat === 'transfer' && r.epsInSpace === 0.04)!.commonCorrect = { n: 800, robustAccuracy: 0.19 };
    expect(assess(f)[5].verdict).toBe('does not hold');
  });

  test('missing models or runs are not decidable, and say what is missing', () => {
    const f = fixture();
    f.results.models = f.results.models.filter((m) => m.name !== 'dfa-only');
    f.results.runs = f.results.runs.filter((r) => !(r.model === 'id-optical' && r.gradient === 'bpda-true'));
    const c = assess(f);
    expect(c[1].verdict).toBe('holds');
    expect(c[3].verdictText).toBe('not decidable: no white-box run at 8/255 on optical through bpda-true');
    expect(c[4].verdictText).toBe("not decidable: no model named 'dfa-only'");
    expect(c[5].verdictText).toBe("not decidable: no model named 'dfa-only'");
    expect(assessClaims({ ...f.results, models: [] }, loaderOf(f), REPRODUCTION_MODELS).every((x) => x.verdict === 'not decidable')).toBe(true);
  });

  test('the Markdown section appears only on request', () => {
    const f = fixture();
    const base = { perSampleLoader: loaderOf(f), checks: [] };
    expect(renderMarkdown(f.results, base)).not.toMatch(/five claims/);
    const md = renderMarkdown(f.results, { ...base, claims: REPRODUCTION_MODELS });
    expect(md).toMatch(/## The paper's five claims\n\n\| # \| claim \| verdict \| deciding numbers \|/);
    expect(md).toMatch(/\| 4 \| Binarization plus random projection improves robustness against black-box attacks\. \| \*\*holds\*\* \| black-box worst case/);
  });

  test('the ablation at a glance: per-example worst cases by threat, worked by hand', () => {
    const f = fixture();
    const rows = ablationSummary(f.results, loaderOf(f));
    // optical-physical and the surrogate have no run of their own; the rest keep the spec's order
    expect(rows.map((r) => r.name)).toEqual(['baseline', 'optical', 'dfa-only']);
    const [base, opt, dfa] = rows;
    expect(base).toEqual({ model: 'id-baseline', name: 'baseline', defense: 'baseline', cleanAccuracy: 0.9, whiteBox: { accuracy: 0, n: N }, whiteBoxNoOracle: null, blackBox: null, transferPgd: 0.1 });
    // white-box: natural 0..14, bpda-random 3..17, bpda-estimated 3..14, bpda-true 5..6 -> every mode leaves {5, 6};
    // without the oracle {3..14}; black-box: square 0..15, bandits 0..16 and 0..17 -> 0..15
    expect(opt.whiteBox).toEqual({ accuracy: 2 / N, n: N });
    expect(opt.whiteBoxNoOracle).toEqual({ accuracy: 12 / N, n: N });
    expect(opt.blackBox).toEqual({ accuracy: 16 / N, n: N });
    expect(opt.transferPgd).toBe(0.5); // the 0.04 run, not the 0.02 one
    expect(dfa).toMatchObject({ whiteBox: null, whiteBoxNoOracle: null, blackBox: { accuracy: 2 / N, n: N }, transferPgd: 0.3 });
    // the Markdown's ablation section is this table (shown when the results have an ablation)
    f.results.extras = { ablation: [{ variant: 'none', model: 'id-baseline', cleanAccuracy: 0.9 }, { variant: 'dfa-only', model: 'id-dfa-only', cleanAccuracy: 0.88 }] };
    const md = renderMarkdown(f.results, { perSampleLoader: loaderOf(f), checks: [] });
    expect(md).toContain('| optical (id-optical) | optical | 89.0% | 10.0% (n=20) | 60.0% (n=20) | 80.0% (n=20) | 50.0% |');
    expect(md).toContain('| dfa-only (id-dfa-only) | dfa-only | 88.0% | — | — | 10.0% (n=20) | 30.0% |');
  });
});

const cli = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
(fs.existsSync(cli) ? test : test.skip)('opulab report --claims: a section of the HTML report and of the Markdown; refused for a comparison', () => {
  const fixtureFile = path.join(__dirname, 'fixtures', 'results-report.json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-claims-'));
  const html = path.join(dir, 'report.html');
  const md = path.join(dir, 'tables.md');
  const r = spawnSync(process.execPath, [cli, 'report', fixtureFile, '--claims', '--out', html, '--markdown', md], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(fs.readFileSync(html, 'utf8')).toMatch(/<section id="claims"><h2>The paper&#39;s five claims<\/h2>/);
  expect(fs.readFileSync(md, 'utf8')).toMatch(/## The paper's five claims/);
  const plain = spawnSync(process.execPath, [cli, 'report', fixtureFile, '--out', html], { encoding: 'utf8' });
  expect(plain.status).toBe(0);
  expect(fs.readFileSync(html, 'utf8')).not.toMatch(/id="claims"/);
  const two = spawnSync(process.execPath, [cli, 'report', fixtureFile, fixtureFile, '--claims', '--out', path.join(dir, 'c.html')], { encoding: 'utf8' });
  expect(two.status).toBe(2);
  expect(two.stderr.trim()).toBe('opulab: --claims: expected one results file (a report), got two (a comparison)');
});
