import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from './helpers/cli';
import { ResultsFile, RunRecord } from '../src/results/schema';
import { explainDemoScale } from '../src/cli/commands/demo';
import { demoSpec } from '../src/experiments/demo-spec';

// The main job end to end (its --quick size), on the synthetic fallback: no CIFAR copy in the data dir given.
it('opulab demo --quick trains, attacks, writes results.json and report.html, and says which data it used', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-demo-'));
  const empty = path.join(tmp, 'no-data');
  fs.mkdirSync(empty);
  const { code, out, err } = await runCli(['demo', '--quick', '--out', path.join(tmp, 'demo'), '--data-dir', empty, '--workers', '1', '--backend', 'wasm', '--no-download']);
  expect(err).not.toMatch(/internal error/);
  expect(code).toBe(0);
  expect(err).toMatch(/cifar10 not found in .* \(--data-dir, --no-download\): using the synthetic dataset instead/);
  const results = JSON.parse(fs.readFileSync(path.join(tmp, 'demo', 'results.json'), 'utf8')) as ResultsFile;
  expect(results.environment.dataset).toBe('synthetic');
  expect(results.environment.data).toEqual({ status: 'synthetic', official: false, files: [] });
  expect(results.models.map((m) => m.defense).sort()).toEqual(['none', 'optical']);
  const attacks = new Set(results.runs.map((r) => r.attack));
  for (const a of ['fgsm', 'pgd', 'apgd-ce', 'apgd-dlr', 'square-linf', 'hsja-linf', 'transfer-pgd', 'noise']) expect([...attacks].some((x) => x.startsWith(a.split('-linf')[0]))).toBe(true);
  const gradients = new Set(results.runs.filter((r) => r.model.includes('optical')).map((r) => r.gradient));
  for (const g of ['natural', 'bpda-random', 'bpda-true']) expect(gradients).toContain(g);
  expect(results.checks.map((c) => c.id)).toEqual(Array.from({ length: 17 }, (_, i) => `C${i + 1}`));
  expect(results.extras?.probe).toBeDefined();
  const html = fs.readFileSync(path.join(tmp, 'demo', 'report.html'), 'utf8');
  expect(html).toMatch(/<html/);
  expect(out).toMatch(/report: .*report.html/);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the demo explains a check that cannot pass at its scale', () => {
  const run = (attack: string, threat: string, model: string, robust: number): RunRecord =>
    ({ model, attack, threat, norm: 'linf', eps: 8 / 255, n: 20, cleanAccuracy: 1, robustAccuracy: robust, gradient: 'natural', params: {} }) as unknown as RunRecord;
  const results = (baselineFgsm: number): ResultsFile => ({
    schema: 'opulab.results/1',
    environment: { backend: 'wasm', workers: 1, opulab: 'x', node: 'x', seed: 0 },
    models: [
      { id: 'b', defense: 'none', cleanAccuracy: 1, n: 20 },
      { id: 'o', defense: 'optical', cleanAccuracy: 1, n: 20 },
    ],
    runs: [run('fgsm', 'white-box', 'b', baselineFgsm), run('fgsm', 'white-box', 'o', 0.9), run('hsja', 'decision', 'b', 0.9), run('hsja', 'decision', 'o', 1)],
    checks: [],
  });
  it('C13 failing only on a query-limited attack gets the budget note; failing on a white-box one does not', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-scale-'));
    const file = path.join(tmp, 'results.json');
    const spec = demoSpec(false);
    const only = results(0);
    explainDemoScale(only, spec, file);
    const c13 = only.checks.find((c) => c.id === 'C13');
    expect(c13?.status).toBe('fail');
    expect(c13?.note).toMatch(/^the demo gives the query-based attacks small budgets \(hsja 3000 queries per image\)/);
    expect(c13?.detail).toContain(`At this run's scale: ${c13?.note}`);
    expect((JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile).environment.scaleNotes).toEqual({ C13: c13?.note });
    const both = results(0.95);
    explainDemoScale(both, spec, path.join(tmp, 'r2.json'));
    expect(both.environment.scaleNotes).toBeUndefined();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
