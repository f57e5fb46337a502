/** The per-example worst case per gradient mode, with and without the oracle (reports/gradient-modes.ts). */
import type { PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { gradientModeTables } from '../reports/gradient-modes';
import { renderMarkdown } from '../reports/markdown';

const E = 8 / 255;

function run(gradient: string, attack: string, perSample: string, robust: number, eps = E): RunRecord {
  return { model: 'opt', attack, threat: 'white-box', norm: 'linf', eps, epsSpace: 'pixel', params: { seed: 1 }, n: 4, cleanAccuracy: 1, robustAccuracy: robust, gradient, perSample };
}

// Four images, all clean-correct; per file, which ones the attack left correct.
const correct: Record<string, boolean[]> = {
  nat: [true, true, true, false],
  rnd: [true, false, true, true],
  est: [true, true, false, true],
  tru: [false, false, true, true],
  unb: [false, false, false, false],
};
const load = (r: RunRecord): PerSampleRecord[] | null =>
  r.perSample ? correct[r.perSample].map((ok, index) => ({ index, label: 1, cleanPrediction: 1, adversarialPrediction: ok ? 1 : 2, success: !ok, eps: r.eps })) : null;

function results(oracle?: string[]): ResultsFile {
  return {
    schema: 'opulab.results/2',
    environment: { backend: 'cpu', workers: 1, opulab: '0', node: 'v20', seed: 0 },
    models: [{ id: 'opt', defense: 'optical', cleanAccuracy: 1, n: 4, ...(oracle ? { oracleGradientModes: oracle } : {}) }],
    runs: [
      run('natural', 'pgd', 'nat', 0.75),
      run('bpda-random', 'pgd', 'rnd', 0.75),
      run('bpda-estimated:2000', 'apgd-ce', 'est', 0.75),
      run('bpda-true', 'pgd', 'tru', 0.5),
      // an unbounded run is a sanity check, not a column
      run('bpda-true', 'pgd', 'unb', 0, 0.5),
    ],
    checks: [],
  };
}

describe('gradientModeTables', () => {
  test('per mode, every mode, and every mode but the oracle, per example (hand-worked)', () => {
    const [t] = gradientModeTables(results(['bpda-true', 'true']), load);
    expect(t.eps).toEqual([E]);
    expect(t.oracle).toEqual(['bpda-true']);
    const acc = Object.fromEntries(t.rows.map((r) => [r.label, r.cells[0]!.accuracy]));
    expect(acc).toEqual({
      natural: 0.75,
      'bpda-random': 0.75,
      'bpda-estimated:2000': 0.75,
      'bpda-true': 0.5,
      // image 0 falls only to the oracle; images 1-3 each fall to some other attack
      'every mode': 0,
      // without bpda-true: image 0 survives the other three
      'every mode but the oracle (bpda-true)': 0.25,
    });
    const noOracle = t.rows.find((r) => r.kind === 'no-oracle')!.cells[0]!;
    expect(noOracle.runs.map((r) => r.gradient)).toEqual(['natural', 'bpda-random', 'bpda-estimated:2000']);
    expect(noOracle.perExample).toBe(true);
  });

  test('an oracle that breaks nothing the others miss leaves the two rows equal', () => {
    const r = results(['bpda-true']);
    correct.tru = [true, false, true, true];
    try {
      const [t] = gradientModeTables(r, load);
      const acc = Object.fromEntries(t.rows.map((x) => [x.kind === 'mode' ? x.label : x.kind, x.cells[0]!.accuracy]));
      expect(acc.every).toBe(0.25);
      expect(acc['no-oracle']).toBe(0.25);
    } finally {
      correct.tru = [false, false, true, true];
    }
  });

  test('no oracle row without declared oracle modes; no table for a model attacked through one mode', () => {
    const [t] = gradientModeTables(results(), load);
    expect(t.rows.map((r) => r.kind)).toEqual(['mode', 'mode', 'mode', 'mode', 'every']);
    const one = results();
    one.runs = one.runs.filter((x) => x.gradient === 'natural');
    expect(gradientModeTables(one, load)).toEqual([]);
  });

  test('the Markdown carries the table', () => {
    const md = renderMarkdown(results(['bpda-true']), { perSampleLoader: load, checks: [] });
    expect(md).toContain('## White-box worst case by gradient mode');
    expect(md).toMatch(/\| \*every mode but the oracle \(bpda-true\)\* \| 25\.0% \(3\) \|/);
  });
});
