import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseSpec, readSpecFile } from '../src/experiments/spec';
import { withSpecReference } from '../src/experiments/spec-reference';
import { appendedEntries, foldAppendedRuns } from '../src/experiments/fold';
import { assembleResults } from '../src/experiments/runner';
import { appendJournal, readJournal } from '../src/experiments/store';
import { checksAreCurrent, checksFingerprint } from '../src/results/fingerprint';
import { runReport } from '../src/cli/commands/report';
import { ResultsFile } from '../src/results/schema';
import { initBackend } from '../src/backend';
import { computeChecks } from '../reports/checks';

const root = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-schema-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => initBackend('cpu', true));

const quick = (): Record<string, any> => JSON.parse(fs.readFileSync(path.join(root, 'examples', 'quick.json'), 'utf8')); // eslint-disable-line @typescript-eslint/no-explicit-any
const err = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('spec schema', () => {
  it('unknown fields name their JSON path and the nearest valid name', () => {
    const cases: [(s: Record<string, any>) => void, string][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [(s) => ((s.models[0].defence = s.models[0].defense), delete s.models[0].defense), "spec.models[0].defence: unknown field (did you mean 'defense'?)"],
      [(s) => (s.models[0].train.epoch = 3), "spec.models[0].train.epoch: unknown field (did you mean 'epochs'?)"],
      [(s) => (s.data.attackSample = 5), "spec.data.attackSample: unknown field (did you mean 'attackSamples'?)"],
      [(s) => (s.attacks[0].gradient = ['bpda-true']), "spec.attacks[0].gradient: unknown field (did you mean 'gradients'?)"],
      [(s) => (s.zzz = 1), 'spec.zzz: unknown field (expected one of name, seed, dataset, data, models, attacks, probe)'],
    ];
    for (const [mutate, message] of cases) {
      const s = quick();
      mutate(s);
      expect(err(() => parseSpec(s))).toBe(message);
    }
  });

  it('types, ranges, names, eps, gradients, samples and transfer sources are checked before any work, naming the path', () => {
    const cases: [(s: Record<string, any>) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [(s) => (s.models[0].width = 'wide'), /^spec\.models\[0\]\.width: bad value "wide": expected a number in \(0, 4\]$/],
      [(s) => (s.models[0].train.batchSize = 0), /^spec\.models\[0\]\.train\.batchSize: bad value 0: expected a positive integer$/],
      [(s) => (s.attacks[0].eps[1] = '-8/255'), /^spec\.attacks\[0\]\.eps\[1\]: bad eps '-8\/255': an eps cannot be negative/],
      [(s) => (s.attacks[0].eps = 'x'), /^spec\.attacks\[0\]\.eps: bad value "x": expected a non-empty list/],
      [(s) => (s.attacks[1].attack = 'sqare'), /^spec\.attacks\[1\]: unknown attack 'sqare' \(did you mean 'square'\?\)/],
      [(s) => (s.attacks[0].params = { stpes: 3 }), /^spec\.attacks\[0\]: pgd: unknown parameter 'stpes'/],
      [(s) => (s.attacks[0].gradients = ['bpda-treu']), /^spec\.attacks\[0\]\.gradients\[0\]: unknown gradient mode 'bpda-treu'/],
      [(s) => ((s.attacks[0].gradients = ['bpda-true']), (s.attacks[0].models = ['baseline'])), /^spec\.attacks\[0\]\.gradients\[0\]: 'bpda-true' is declared by none of the attacked models' defenses \(baseline: natural\)/],
      [(s) => (s.attacks[0].samples = 501), /^spec\.attacks\[0\]\.samples: 501 is more than data\.testSamples \(500\)/],
      [(s) => (s.attacks.find((a: { attack: string }) => a.attack === 'transfer').source = 'nobody'), /\.source: unknown model 'nobody': expected one of baseline, optical, surrogate$/],
      [(s) => (s.attacks[0].source = 'baseline'), /^spec\.attacks\[0\]\.source: only for transfer attacks/],
      [(s) => (s.models[0] = null), /^spec\.models\[0\]: bad value null: expected an object \(models\[\]\)$/],
      [(s) => (s.models[1].defense = './no-such-plugin.js'), /^spec\.models\[1\]\.defense: .*no-such-plugin\.js/],
      [(s) => (s.models[1].camera = { gian: 2 }), /^spec\.models\[1\]\.camera: unknown camera option 'gian'/],
      [(s) => (s.models[1].name = 'baseline'), /^spec\.models\[1\]\.name: duplicate model name 'baseline'$/],
    ];
    const s0 = quick();
    s0.attacks[0].attack = 'pgd';
    for (const [mutate, pattern] of cases) {
      const s = structuredClone(s0);
      mutate(s);
      expect(err(() => parseSpec(s))).toMatch(pattern);
    }
  });

  it('every shipped spec is valid, and a spec file error names the file', () => {
    for (const f of fs.readdirSync(path.join(root, 'examples')).filter((x) => x.endsWith('.json'))) expect(() => readSpecFile(path.join(root, 'examples', f))).not.toThrow();
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ models: [{ name: 'a', defence: 'optical' }], attacks: [] }));
    expect(err(() => readSpecFile(bad))).toBe(`${bad}: spec.models[0].defence: unknown field (did you mean 'defense'?)`);
  });

  it("the README's spec field reference is the one generated from the schemas (npm run docs:spec)", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(withSpecReference(readme) === readme).toBe(true);
    expect(readme).toContain('| `defense` | one of none, optical');
  });
});

describe('results are never dropped; report checks follow the runs', () => {
  const fixture = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'results-report.json'), 'utf8')) as ResultsFile;
  const stripPerSample = (r: ResultsFile['runs'][number]) => ({ ...r, perSample: undefined });

  it('runs appended to results.json by other commands are folded into the journal and survive the rebuild', () => {
    const dir = path.join(tmp, 'run');
    fs.mkdirSync(dir, { recursive: true });
    const runs = fixture.runs.map(stripPerSample);
    // the run's own journal: both models and the first 5 runs
    fixture.models.forEach((m, i) => appendJournal(dir, { kind: 'model', key: `m${i}`, order: i, record: m }));
    appendJournal(dir, { kind: 'runs', key: 'r0', order: 10, records: runs.slice(0, 5) });
    assembleResults(dir, fixture.environment);
    const own = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as ResultsFile;
    expect(own.runs).toHaveLength(5);
    expect(appendedEntries(dir)).toEqual([]);
    // `opulab attack --out DIR/results.json` appends 3 runs and a model of its own
    own.runs.push(...runs.slice(5, 8));
    own.models.push({ ...fixture.models[0], id: 'vgg11-w0.5-none-bp' });
    fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(own));
    expect(foldAppendedRuns(dir)).toEqual({ runs: 3, models: 1 });
    expect(foldAppendedRuns(dir)).toEqual({ runs: 0, models: 0 }); // idempotent
    const rebuilt = assembleResults(dir, fixture.environment);
    expect(rebuilt.runs).toHaveLength(8);
    expect(rebuilt.runs.map((r) => r.attack)).toEqual(runs.slice(0, 8).map((r) => r.attack));
    expect(rebuilt.models.map((m) => m.id)).toContain('vgg11-w0.5-none-bp');
    expect(readJournal(dir).filter((e) => e.key.startsWith('appended-'))).toHaveLength(2);
    // a results.json that cannot be read stops the run instead of being replaced
    fs.writeFileSync(path.join(dir, 'results.json'), '{"runs": [');
    expect(err(() => foldAppendedRuns(dir))).toMatch(/results\.json is not valid JSON .*repair it or move it away/);
  });

  it("results list the models in job order (the spec's), not by id", () => {
    const dir = path.join(tmp, 'order');
    fs.mkdirSync(dir, { recursive: true });
    // written in the order two training lanes finished them: the second model first
    appendJournal(dir, { kind: 'model', key: 'm1', order: 1, record: { ...fixture.models[1], id: 'a-defended' } });
    appendJournal(dir, { kind: 'model', key: 'm0', order: 0, record: { ...fixture.models[0], id: 'z-baseline' } });
    expect(assembleResults(dir, fixture.environment).models.map((m) => m.id)).toEqual(['z-baseline', 'a-defended']);
  });

  it('an optimizer sweep is models that differ in optimizer only, not an SGD baseline beside Adam-trained defenses', () => {
    const rec = (id: string, optimizer: string, defense: string, training: string) => ({ ...fixture.models[0], id, architecture: 'vgg16', optimizer, defense, training, train: { ...(fixture.models[0].train as object), optimizer } });
    const dir = path.join(tmp, 'sweep');
    fs.mkdirSync(dir, { recursive: true });
    appendJournal(dir, { kind: 'model', key: 'm0', order: 0, record: rec('base-sgd', 'sgd', 'none', 'bp') });
    appendJournal(dir, { kind: 'model', key: 'm1', order: 1, record: rec('opt-adam', 'adam', 'optical', 'hybrid') });
    expect(assembleResults(dir, fixture.environment).extras?.optimizerSweep).toBeUndefined();
    const same = path.join(tmp, 'sweep-same');
    fs.mkdirSync(same, { recursive: true });
    appendJournal(same, { kind: 'model', key: 'm0', order: 0, record: rec('base-sgd', 'sgd', 'none', 'bp') });
    appendJournal(same, { kind: 'model', key: 'm1', order: 1, record: rec('base-adam', 'adam', 'none', 'bp') });
    expect((assembleResults(same, fixture.environment).extras?.optimizerSweep as { optimizer: string }[]).map((r) => r.optimizer)).toEqual(['sgd', 'adam']);
  });

  it('report recomputes the checks whenever the runs changed since they were computed', () => {
    const dir = path.join(tmp, 'report');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'results.json');
    const r: ResultsFile = { ...structuredClone(fixture), runs: fixture.runs.map(stripPerSample) };
    r.checks = computeChecks(r, () => null);
    r.checksOf = checksFingerprint(r);
    expect(checksAreCurrent(r)).toBe(true);
    fs.writeFileSync(file, JSON.stringify(r));
    const lines: string[] = [];
    runReport({ results: file, out: path.join(dir, 'a.html'), log: (l) => lines.push(l) });
    expect(lines).toContain('checks (from results.json):');
    r.runs.push({ ...r.runs[0], eps: 0.5 });
    fs.writeFileSync(file, JSON.stringify(r));
    lines.length = 0;
    runReport({ results: file, out: path.join(dir, 'b.html'), log: (l) => lines.push(l) });
    expect(lines).toContain('checks (computed):');
  });
});
