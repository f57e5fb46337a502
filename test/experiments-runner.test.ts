import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { parseSpec, readSpecFile } from '../src/experiments/spec';
import { parseShard } from '../src/experiments/runner';
import { PerSampleRecord, ResultsFile } from '../src/results/schema';
import { readJournal, type RunsEntry } from '../src/experiments/store';
import { DirChunkStore, partialDir } from '../src/experiments/chunk-store';
import { readResults, withoutTimings } from './helpers/results';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const spec = path.join(__dirname, 'fixtures', 'tiny-spec.json');
const tmp = tempDir('opulab-run-');

function opulab(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args, '--backend', 'wasm'], { encoding: 'utf8', timeout: 240000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** results.json without what legitimately differs between two runs (timings, dates, shard labels). */
function comparable(dir: string): unknown {
  const r = readResults(path.join(dir, 'results.json'));
  return { models: r.models.map(withoutTimings), runs: r.runs.map(withoutTimings), checks: r.checks };
}

describe('experiment specs', () => {
  it('validation errors name the field', () => {
    expect(() => parseSpec({ models: [] })).toThrow(/spec.models: bad value \[\]/);
    expect(() => parseSpec({ models: [{ name: 'a', width: -1 }], attacks: [] })).toThrow(/spec.models\[0\].width: bad value -1/);
    expect(() => parseSpec({ models: [{ name: 'a' }], attacks: [{ attack: 'pgd', eps: [] }] })).toThrow(/spec.attacks\[0\].eps/);
    expect(() => parseSpec({ models: [{ name: 'a' }], attacks: [{ attack: 'pgd', eps: [1], models: ['b'] }] })).toThrow(/unknown model 'b'/);
    expect(() => parseSpec({ models: [{ name: 'a', defense: 'magic' }], attacks: [] })).toThrow(/defense: bad value "magic": expected one of none, optical/);
    expect(readSpecFile(spec).models.map((m) => m.name)).toEqual(['base', 'opt']);
  });
  it('shards parse', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    expect(() => parseShard('4/4')).toThrow(/bad --shard/);
  });
});

const haveCli = fs.existsSync(cli);
(haveCli ? describe : describe.skip)('opulab run: resume after SIGKILL, shards + merge equal one uninterrupted run', () => {
  if (!haveCli) process.stderr.write(`SKIPPED: ${cli} not built (npm run build)\n`);
  const full = path.join(tmp, 'full');
  it('an uninterrupted run', () => {
    const r = opulab(['run', spec, '--out', full]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    // attack jobs show progress while they run (percent of the job, then eta)
    expect(r.stderr).toMatch(/\[\d+\/\d+\] square on base \d+\/100 \(\d+%\) \d+\.\ds/);
    const res = JSON.parse(fs.readFileSync(path.join(full, 'results.json'), 'utf8')) as ResultsFile;
    expect(res.models).toHaveLength(2);
    // fgsm x (base natural, opt natural, opt bpda-true) x 2 eps + pgd x 3 + square x 2 + transfer + noise x 2
    expect(res.runs).toHaveLength(6 + 3 + 2 + 1 + 2);
    expect(res.checks.map((c) => c.id)).toContain('C17');
    // a labelled entry's runs carry the label, and the registered attack beside it (check C5 pairs reruns by it)
    const pgdRuns = res.runs.filter((r) => r.attack === 'pgd-2step');
    expect(pgdRuns).toHaveLength(3);
    expect(pgdRuns.every((r) => r.method === 'pgd')).toBe(true);
    expect(res.runs.filter((r) => r.attack === 'fgsm').every((r) => r.method === undefined)).toBe(true);
    const probe = res.extras?.probe as { layers: string[]; curves: { model: string }[] };
    expect(probe.curves.map((c) => c.model)).toEqual(['vgg11-w0.125-none-bp', 'vgg11-w0.125-optical-hybrid']);
    expect(probe.layers).toEqual(expect.arrayContaining(['conv1', 'pool5']));
  });

  it('scripts/publish-reproduction.sh publishes a complete run (gzipped per-example files, same tables) and refuses an unfinished one', () => {
    const publish = (run: string, out: string, env: Record<string, string> = {}) =>
      spawnSync('sh', ['scripts/publish-reproduction.sh', run, out], { cwd: root, encoding: 'utf8', timeout: 120000, env: { ...process.env, SPEC: spec, ...env } });
    const out = path.join(tmp, 'published');
    const r = publish(full, out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const written = fs.readdirSync(path.join(full, 'runs')).filter((f) => f.endsWith('.jsonl')).sort();
    expect(fs.readdirSync(path.join(out, 'runs')).sort()).toEqual(written.map((f) => `${f}.gz`));
    expect(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).toBe(fs.readFileSync(path.join(full, 'results.json'), 'utf8'));
    // the report read from the gzipped copies has the tables of the report read from the files as written
    const direct = path.join(tmp, 'direct.md');
    expect(opulab(['report', path.join(full, 'results.json'), '--claims', '--markdown', direct, '--out', path.join(tmp, 'direct.html')]).status).toBe(0);
    expect(fs.readFileSync(path.join(out, 'tables.md'), 'utf8')).toBe(fs.readFileSync(direct, 'utf8'));
    expect(fs.statSync(path.join(out, 'report.html')).size).toBeGreaterThan(10000);

    // a folder with results but no journal: no model recorded, so not complete
    const unfinished = path.join(tmp, 'unfinished');
    fs.mkdirSync(unfinished, { recursive: true });
    fs.copyFileSync(path.join(full, 'results.json'), path.join(unfinished, 'results.json'));
    const refused = publish(unfinished, path.join(tmp, 'refused'));
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/is not complete \(in .*: 0 of 2 models trained and recorded, 0 of 11 attack jobs done\)/);
    expect(fs.existsSync(path.join(tmp, 'refused'))).toBe(false);
    const preview = publish(unfinished, path.join(tmp, 'preview'), { PREVIEW: '1' });
    expect(preview.status).toBe(0);
    expect(preview.stdout).toMatch(/^preview of an unfinished run/);
  });

  it('killed mid-way, rerun resumes and equals the uninterrupted run', async () => {
    const dir = path.join(tmp, 'killed');
    const child = spawn(process.execPath, [cli, 'run', spec, '--out', dir, '--backend', 'wasm'], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        const n = readJournal(dir).filter((e) => e.kind === 'runs').length;
        if (n >= 2) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        } else if (Date.now() - t0 > 200000) {
          clearInterval(poll);
          child.kill('SIGKILL');
          reject(new Error('run never got two jobs done'));
        }
      }, 50);
    });
    await new Promise((r) => child.on('exit', r));
    const before = readJournal(dir).length;
    expect(before).toBeLessThan(2 + 10);
    const r = opulab(['run', spec, '--out', dir]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/already done/);
    const keys = readJournal(dir).map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(comparable(dir)).toEqual(comparable(full));
  });

  it('a job stopped inside resumes from its saved chunks: a planted chunk is used as it is, and its wall time counted', () => {
    const dir = path.join(tmp, 'chunks');
    fs.mkdirSync(dir, { recursive: true });
    fs.cpSync(path.join(full, 'checkpoints'), path.join(dir, 'checkpoints'), { recursive: true });
    const square = readJournal(full).find((e): e is RunsEntry => e.kind === 'runs' && e.records[0].attack === 'square')!;
    const samples = fs.readFileSync(path.join(full, square.records[0].perSample!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PerSampleRecord);
    expect(samples).toHaveLength(16);
    // the saved chunk 0 (all 16 images) says the attack broke every image, and that 1000 s went into it
    const broken = samples.map((r) => ({ ...r, adversarialPrediction: (r.label + 1) % 10, success: true }));
    new DirChunkStore(dir, square.key).save(0, samples.map((r) => r.index), [{ run: square.records[0], perSample: broken }]);
    const chunkFile = path.join(partialDir(dir, square.key), 'chunk-0.json');
    const planted = JSON.parse(fs.readFileSync(chunkFile, 'utf8')) as { elapsedSec: number };
    fs.writeFileSync(chunkFile, JSON.stringify({ ...planted, elapsedSec: 1000 }));
    const r = opulab(['run', spec, '--out', dir]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/resuming with 1 chunk\(s\) saved earlier/);
    const res = readResults(path.join(dir, 'results.json'));
    const run = res.runs.find((x) => x.attack === 'square')!;
    const before = readResults(path.join(full, 'results.json')).runs.find((x) => x.attack === 'square')!;
    expect(before.robustAccuracy).toBeGreaterThan(0);
    expect(run.robustAccuracy).toBe(0);
    expect(run.cleanAccuracy).toBe(before.cleanAccuracy);
    expect(run.wallTimeSec).toBeGreaterThanOrEqual(1000);
    expect(fs.existsSync(path.join(dir, 'partial'))).toBe(false);
    // every other job is computed as in the uninterrupted run
    const others = (d: string): unknown => readResults(path.join(d, 'results.json')).runs.filter((x) => x.attack !== 'square').map(withoutTimings);
    expect(others(dir)).toEqual(others(full));
  });

  it('two shards merged equal the uninterrupted run', () => {
    const a = path.join(tmp, 's0');
    const b = path.join(tmp, 's1');
    expect(opulab(['run', spec, '--out', a, '--shard', '0/2']).status).toBe(0);
    expect(opulab(['run', spec, '--out', b, '--shard', '1/2']).status).toBe(0);
    const merged = path.join(tmp, 'merged');
    const m = opulab(['merge', a, b, '--out', merged]);
    expect(m.status).toBe(0);
    expect(comparable(merged)).toEqual(comparable(full));
  });

  it('runs that opulab attack appended to the run directory survive a rerun of the spec', () => {
    const dir = path.join(tmp, 'appended');
    fs.cpSync(full, dir, { recursive: true });
    const ck = fs.readdirSync(path.join(dir, 'checkpoints')).find((d) => d.startsWith('opt-'))!;
    const a = opulab(['attack', '--checkpoint', path.join(dir, 'checkpoints', ck), '--attack', 'fgsm', '--eps', '1/255,3/255', '--samples', '8', '--out', path.join(dir, 'results.json')]);
    expect(a.status).toBe(0);
    const appended = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as ResultsFile;
    expect(appended.runs).toHaveLength(14 + 2);
    const r = opulab(['run', spec, '--out', dir]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/kept 2 runs and 0 models that other commands appended/);
    const after = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as ResultsFile;
    expect(after.runs).toHaveLength(14 + 2);
    expect(after.runs.slice(14).map((x) => x.eps)).toEqual(appended.runs.slice(14).map((x) => x.eps));
    // a check mentions every run; the report recomputes checks from all 16
    expect(after.checksOf).toBeDefined();
  });

  it('bad input exits 2 with one line', () => {
    const r = opulab(['run', path.join(tmp, 'missing.json'), '--out', path.join(tmp, 'x')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/spec file '.*missing.json' not found/)]);
    const e = opulab(['attack', '--checkpoint', tmp, '--attack', 'pgd']);
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/no model.json/);
  });
});
