/** Markdown tables (`opulab report --markdown`): the numbers, the per-example worst case, variants, and bad paths. */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { renderMarkdown } from '../reports/markdown';
import { attackJobs } from '../reports/compute-time';
import { renderReport } from '../reports/html';
import { runReport } from '../src/cli/commands/report';
import { UserError } from '../src/util/errors';
import { tempDir } from './helpers/tmp';

const BASE = 'vgg16-w0.25-none-bp';
const DEF = 'vgg16-w0.25-optical-hybrid';
const E8 = 8 / 255;

function run(p: Partial<RunRecord> & { model: string; attack: string }): RunRecord {
  return { threat: 'white-box', norm: 'linf', eps: E8, epsSpace: 'pixel', params: { seed: 0 }, n: 10, cleanAccuracy: 0.9, robustAccuracy: 0.5, ...p };
}

/** Ten examples; `broken` are the indices the attack turned (all ten start correct). */
function samples(broken: number[]): PerSampleRecord[] {
  return Array.from({ length: 10 }, (_, i) => ({ index: i, label: 0, cleanPrediction: 0, adversarialPrediction: broken.includes(i) ? 1 : 0, success: broken.includes(i), eps: E8 }));
}

function fixture(): { results: ResultsFile; records: Map<string, PerSampleRecord[]> } {
  const records = new Map<string, PerSampleRecord[]>();
  const withRecs = (r: RunRecord, broken: number[]): RunRecord => {
    r.perSample = `runs/${records.size}.jsonl`;
    records.set(r.perSample, samples(broken));
    r.robustAccuracy = (10 - broken.length) / 10;
    return r;
  };
  const runs: RunRecord[] = [
    withRecs(run({ model: BASE, attack: 'pgd', gradient: 'true', params: { seed: 0, steps: 50, restarts: 1 } }), [0, 1, 2, 3, 4, 5, 6, 7, 8]),
    // Two attacks that each leave 6/10 but break different examples: the worst case per example is 2/10.
    withRecs(run({ model: DEF, attack: 'pgd', gradient: 'natural', params: { seed: 0, steps: 50, restarts: 1 } }), [0, 1, 2, 3]),
    withRecs(run({ model: DEF, attack: 'pgd', gradient: 'bpda-true', params: { seed: 0, steps: 50, restarts: 1 } }), [4, 5, 6, 7]),
    withRecs(run({ model: DEF, attack: 'pgd', gradient: 'bpda-true', params: { seed: 0, steps: 100, restarts: 2 } }), [4, 5, 6, 7]),
    // Bandits at two fd_eta values: the variant column must tell them apart.
    withRecs(run({ model: DEF, attack: 'bandits', threat: 'black-box-score', params: { seed: 0, maxQueries: 15000, fdEta: 0.1 }, successRate: 0.1, queries: { mean: 1200, median: 800 } }), [1]),
    withRecs(run({ model: DEF, attack: 'bandits', threat: 'black-box-score', params: { seed: 0, maxQueries: 15000, fdEta: 1 }, successRate: 0.3, queries: { mean: 2500.4, median: 2100 } }), [1, 2, 3]),
    // Square at the black-box eps 8/256, just below 8/255: it joins the 8/255 worst case (inside the smaller ball).
    withRecs(run({ model: DEF, attack: 'square', threat: 'black-box-score', eps: 8 / 256, params: { seed: 0, maxQueries: 5000 }, successRate: 0.1, queries: { mean: 300, median: 250 } }), [8]),
    run({ model: DEF, attack: 'transfer-pgd', threat: 'transfer', source: BASE, eps: 0.1 * 0.2470, epsSpace: 'normalized', epsInSpace: 0.1, robustAccuracy: 0.7, commonCorrect: { n: 8, robustAccuracy: 0.625 } }),
  ];
  const results: ResultsFile = {
    schema: 'opulab.results/1',
    environment: { backend: 'wasm', workers: 1, opulab: '0.1.0', node: 'v20', seed: 0 },
    models: [
      { id: BASE, name: 'baseline', architecture: 'vgg16', width: 0.25, defense: 'none', training: 'bp', cleanAccuracy: 0.9, n: 10, train: { epochs: 40, optimizer: 'sgd', lr: 0.05, schedule: 'cosine' } },
      { id: DEF, name: 'optical', architecture: 'vgg16', width: 0.25, defense: 'optical', training: 'hybrid', cleanAccuracy: 0.9, n: 10, train: { epochs: 30, optimizer: 'adam', lr: 0.001, schedule: 'cosine' } },
    ],
    runs,
    checks: [{ id: 'C1', status: 'pass', detail: 'a | b' }],
    extras: { ablation: [{ variant: 'dfa-only', binarize: false, cleanAccuracy: 0.875 }] },
  };
  return { results, records };
}

/** The table row (cells) of a Markdown document whose first cell starts with `first`, under `heading`. */
function row(md: string, heading: string, first: string, nth = 0): string[] {
  const from = md.indexOf(heading);
  expect(from).toBeGreaterThanOrEqual(0);
  const lines = md.slice(from).split('\n').filter((l) => l.startsWith(`| ${first}`));
  expect(lines.length).toBeGreaterThan(nth);
  return lines[nth].slice(2, -2).split(' | ');
}

describe('renderMarkdown', () => {
  const { results, records } = fixture();
  const md = renderMarkdown(results, { perSampleLoader: (r) => (r.perSample ? records.get(r.perSample) ?? null : null), checks: results.checks, title: 'Study' });

  it('headline: the per-example worst case over attacks, below every single attack', () => {
    expect(md.startsWith('# Study\n')).toBe(true);
    const def = row(md, '## Headline', 'optical');
    // 8/255: natural breaks 0-3, bpda-true 4-7, bandits 1-3, and Square at 8/256 (a smaller ball) 8 -> only 9 is
    // robust; the transfer run at 0.0247 joins as an upper bound without per-sample records (†).
    expect(def[1]).toBe('90.0%');
    expect(def[4]).toBe('10.0% † (7 attacks, n=10)');
    // the transfer-only eps: no per-sample records (an upper bound) and no white-box attack, both marked
    expect(def[2]).toBe('70.0% † ‡ (1 attack, n=10)');
    // 8/256: Square and, from the smaller ball, the transfer run; no white-box attack
    expect(def[3]).toBe('70.0% † ‡ (2 attacks, n=10)');
    const base = row(md, '## Headline', 'baseline');
    expect(base.slice(2)).toEqual(['—', '—', '10.0% (1 attack, n=10)']);
  });

  it('models table with the training recipe and clean accuracy', () => {
    expect(row(md, '## Models', 'optical')).toEqual([`optical (${DEF})`, 'vgg16 width 0.25', 'optical', 'hybrid: 30 epochs adam lr 0.001 cosine', '90.0%', '10']);
  });

  it('white-box rows per gradient mode and budget, eps in pixel units', () => {
    const head = row(md, '### optical', 'attack');
    expect(head[4]).toBe('8/255 (0.0314)');
    expect(row(md, '### optical', 'PGD', 0)).toEqual(['PGD', 'linf', 'natural', '50 steps', '60.0%']);
    expect(row(md, '### optical', 'PGD', 1)).toEqual(['PGD', 'linf', 'bpda-true', '50 steps', '60.0%']);
    expect(row(md, '### optical', 'PGD', 2)).toEqual(['PGD', 'linf', 'bpda-true', '100 steps, 2 restarts', '60.0%']);
  });

  it('black-box rows keep fd_eta variants apart, with success rate and query statistics', () => {
    const a = row(md, '## Black-box', `optical (${DEF}) | Bandits-TD`, 0);
    const b = row(md, '## Black-box', `optical (${DEF}) | Bandits-TD`, 1);
    expect(a.slice(3)).toEqual(['fdEta 0.1', '8/255 (0.0314)', '15,000', '10.0%', '90.0%', '1,200', '800']);
    expect(b.slice(3)).toEqual(['fdEta 1', '8/255 (0.0314)', '15,000', '30.0%', '70.0%', '2,500', '2,100']);
  });

  it('transfer matrix on the common-correct subset, eps as specified (normalized)', () => {
    expect(md).toContain('### Transfer-PGD at 0.1 normalized = 6.3/255 (0.0247)');
    expect(row(md, '### Transfer-PGD', 'baseline')).toEqual([`baseline (${BASE})`, '62.5% (n=8)']);
  });

  it('the HTML black-box table names the same variants', () => {
    const html = renderReport(results, { perSampleLoader: (r) => (r.perSample ? records.get(r.perSample) ?? null : null), checks: results.checks });
    const bb = html.slice(html.indexOf('<section id="black-box">'), html.indexOf('<section id="transfer">'));
    expect(bb).toContain('Bandits-TD<br><span class="muted small">fdEta 0.1</span>');
    expect(bb).toContain('Bandits-TD<br><span class="muted small">fdEta 1</span>');
  });

  it('ablation rows and checks, with table pipes escaped', () => {
    // the ablation at a glance: per-example worst cases (no oracle declared, no transfer run at normalized 0.04)
    expect(row(md, '## Ablation', 'optical')).toEqual([`optical (${DEF})`, 'optical', '90.0%', '20.0% (n=10)', '—', '60.0% (n=10)', '—']);
    expect(md).toContain('| C1 | pass | a \\| b |');
  });
});

describe('opulab report --markdown', () => {
  it('compute time: training from the epoch records, attacks per job (runs of one job share its per-sample key)', () => {
    const { results } = fixture();
    const timed: ResultsFile = {
      ...results,
      models: results.models.map((m) => (m.id === DEF ? { ...m, train: { ...m.train, history: [{ epoch: 1, seconds: 60 }, { epoch: 2, seconds: 90 }] } } : m)),
      runs: [
        run({ model: DEF, attack: 'pgd', eps: 0.01, perSample: 'runs/aaaa-0.jsonl', wallTimeSec: 100 }),
        run({ model: DEF, attack: 'pgd', eps: 0.02, perSample: 'runs/aaaa-1.jsonl', wallTimeSec: 100 }),
        run({ model: DEF, attack: 'square', threat: 'black-box-score', perSample: 'runs/bbbb-0.jsonl', wallTimeSec: 50 }),
        run({ model: DEF, attack: 'transfer-pgd', threat: 'transfer', source: BASE, perSample: 'runs/cccc-0.jsonl', wallTimeSec: 30 }),
        run({ model: BASE, attack: 'transfer-pgd', threat: 'transfer', source: BASE, perSample: 'runs/cccc-1.jsonl', wallTimeSec: 30 }),
        run({ model: BASE, attack: 'pgd', wallTimeSec: 7 }),
      ],
    };
    expect(attackJobs(timed.runs).map((j) => [j.runs.length, j.seconds])).toEqual([[2, 100], [1, 50], [2, 30], [1, 7]]);
    const text = renderMarkdown(timed, { perSampleLoader: () => null, checks: [] });
    expect(row(text, '## Compute time', 'optical')).toEqual([`optical (${DEF})`, '150 s (2 epochs)', '150 s (2 jobs)']);
    expect(row(text, '## Compute time', 'baseline')).toEqual([`baseline (${BASE})`, '—', '7.0 s (1 job)']);
    expect(row(text, '## Compute time', 'transfer')[2]).toBe('30 s (1 job)');
    expect(row(text, '## Compute time', '**total**')).toEqual(['**total**', '**150 s**', '**187 s**']);
    // the HTML report's environment counts the same jobs (not 100 s once per eps run)
    const html = renderReport(timed, { perSampleLoader: () => null });
    expect(html).toContain('attack wall time (sum over jobs)</strong></td><td>187 s<');
    expect(html).toContain('training time (sum of recorded epoch times)</strong></td><td>150 s<');
  });

  const dir = tempDir('opulab-md-');
  it('writes the tables beside the HTML report, and refuses to overwrite the results file', () => {
    const { results, records } = fixture();
    const file = path.join(dir, 'results.json');
    fs.writeFileSync(file, JSON.stringify(results));
    fs.mkdirSync(path.join(dir, 'runs'));
    for (const [p, recs] of records) fs.writeFileSync(path.join(dir, p), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const md = path.join(dir, 'tables.md');
    runReport({ results: file, markdown: md, log: () => undefined });
    const text = fs.readFileSync(md, 'utf8');
    expect(row(text, '## Headline', 'optical')[4]).toBe('10.0% † (7 attacks, n=10)');
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
    // per-sample files kept gzip-compressed (FILE.gz beside the path results.json names) read the same
    for (const p of records.keys()) {
      const f = path.join(dir, p);
      fs.writeFileSync(`${f}.gz`, zlib.gzipSync(fs.readFileSync(f)));
      fs.unlinkSync(f);
    }
    const md2 = path.join(dir, 'tables-gz.md');
    runReport({ results: file, out: path.join(dir, 'report-gz.html'), markdown: md2, log: () => undefined });
    expect(row(fs.readFileSync(md2, 'utf8'), '## Headline', 'optical')[4]).toBe('10.0% † (7 attacks, n=10)');
    const before = fs.readFileSync(file, 'utf8');
    expect(() => runReport({ results: file, markdown: file, log: () => undefined })).toThrow(UserError);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });
});
