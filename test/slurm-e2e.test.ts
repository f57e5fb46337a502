/**
 * Scale-out on a real Slurm: a private single-node cluster (test/helpers/slurm-cluster.ts) runs
 * scripts/slurm/opulab-array.sh as a 4-task array over a small real-data spec; the dependent merge job joins the
 * shards and renders the report, and the merged results.json must equal a single-process run of the same spec
 * (everything but timings). Then the fault case: one task is cancelled while it runs (scancel) and resubmitted;
 * its journal resumes and the merged result is still identical.
 *
 * When Slurm cannot start here the suite says why; under CI (CI=true) that is a failure, elsewhere a skip.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ResultsFile } from '../src/results/schema';
import { readJournal } from '../src/experiments/store';
import { readResults, withoutTimings } from './helpers/results';
import { sharedDataDir } from './helpers/shared-data';
import { startSlurmCluster, StartResult } from './helpers/slurm-cluster';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const script = path.join(root, 'scripts', 'slurm', 'opulab-array.sh');
const spec = path.join(__dirname, 'fixtures', 'slurm-spec.json');
const SHARDS = 4;
const DATA = sharedDataDir();
const CI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-slurm-'));
const cacheDir = path.join(tmp, 'cache');
const t0 = Date.now();

function start(): StartResult {
  if (!fs.existsSync(cli)) return { ok: false, reason: `${cli} not built (npm run build)` };
  if (!DATA) return { ok: false, reason: 'real CIFAR copy not found (set OPULAB_DATA_DIR)' };
  return startSlurmCluster(path.join(tmp, 'slurm'));
}
const started = start();
if (!started.ok) process.stderr.write(`slurm-e2e: Slurm cannot start here: ${started.reason}${CI ? ' (CI: failing)' : ' (skipping)'}\n`);
afterAll(() => {
  if (started.ok) started.cluster.stop();
  process.stdout.write(`slurm-e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s in all\n`);
  fs.rmSync(tmp, { recursive: true, force: true });
});

if (!started.ok && CI) {
  test('Slurm starts (required under CI)', () => {
    throw new Error(`Slurm cannot start: ${started.reason}`);
  });
}

/** results.json without what legitimately differs between two runs (timings, dates, checkpoint paths, shard labels). */
function comparable(file: string): unknown {
  const r = readResults(file);
  return { models: r.models.map(withoutTimings), runs: r.runs.map(withoutTimings), checks: r.checks, extras: r.extras, data: r.environment.data };
}

(started.ok ? describe : describe.skip)('Slurm array job + dependent merge (private single-node cluster)', () => {
  const cluster = started.ok ? started.cluster : (null as never);
  const env = (): NodeJS.ProcessEnv => ({
    ...cluster.env,
    OPULAB_DATA_DIR: DATA as string,
    OPULAB_CACHE_DIR: cacheDir,
    OPULAB_CMD: `${process.execPath} ${cli} --backend wasm`,
    OPULAB_WORKERS: '1',
  });
  const sbatch = (out: string, args: string[]): string => {
    fs.mkdirSync(out, { recursive: true }); // slurmd opens --output there
    const r = spawnSync('sbatch', ['--parsable', ...args], { env: env(), cwd: root, encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`sbatch ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim().split(';')[0];
  };
  /** Jobs still pending, running or completing: "id state" lines. */
  const active = (): string[] =>
    cluster
      .run('squeue', ['-h', '-t', 'PD,R,CG,CF', '-o', '%i %T %r'])
      .trim()
      .split('\n')
      .filter((l) => l !== '');
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  async function waitIdle(limitSec: number): Promise<void> {
    const end = Date.now() + limitSec * 1000;
    for (;;) {
      const a = active();
      if (a.length === 0) return;
      // a merge job whose dependency can never be met is removed by Slurm (--kill-on-invalid-dep=yes)
      if (Date.now() > end) throw new Error(`jobs still active after ${limitSec} s: ${a.join('; ')}`);
      await sleep(500);
    }
  }
  const single = path.join(tmp, 'single');
  /** The job logs of `out`, for a failure message. */
  const logsOf = (out: string): string =>
    fs
      .readdirSync(out)
      .filter((f) => f.startsWith('slurm-'))
      .map((f) => `--- ${f}:\n${fs.readFileSync(path.join(out, f), 'utf8').split('\n').filter((l) => !/^epoch /.test(l)).slice(-15).join('\n')}`)
      .join('\n');
  const merged = (out: string): string => {
    const f = path.join(out, 'merged', 'results.json');
    if (!fs.existsSync(f)) throw new Error(`no merged results in ${out}; job logs:\n${logsOf(out)}`);
    return f;
  };

  test('a single-process run of the spec (the reference)', () => {
    const r = spawnSync(process.execPath, [cli, 'run', spec, '--out', single, '--workers', '1', '--backend', 'wasm'], {
      env: { ...process.env, OPULAB_DATA_DIR: DATA as string, OPULAB_CACHE_DIR: cacheDir },
      encoding: 'utf8',
      timeout: 300000,
    });
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    const res = JSON.parse(fs.readFileSync(path.join(single, 'results.json'), 'utf8')) as ResultsFile;
    expect(res.runs.length).toBe(9);
    expect(res.environment.data).toMatchObject({ status: 'official-prefix', official: false });
  }, 300000);

  test('sbatch --array=0-3 opulab-array.sh SPEC OUT: 4 shards, the merge job joins them and renders the report; equal to the single run', async () => {
    const out = path.join(tmp, 'array');
    const t = Date.now();
    const job = sbatch(out, [`--array=0-${SHARDS - 1}`, '--cpus-per-task=1', `--output=${out}/slurm-%A_%a.out`, script, spec, out]);
    await sleep(1000);
    await waitIdle(420);
    process.stdout.write(`slurm-e2e: array job ${job} (${SHARDS} tasks) + merge finished in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    merged(out);
    const logs = fs.readdirSync(out).filter((f) => f.startsWith('slurm-'));
    expect(logs.filter((f) => f.startsWith('slurm-merge-')).length).toBe(1);
    for (let i = 0; i < SHARDS; i++) expect(fs.existsSync(path.join(out, `shard-${i}`, '.opulab-shard-done'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'merged', 'report.html'))).toBe(true);
    expect(comparable(merged(out))).toEqual(comparable(path.join(single, 'results.json')));
  }, 480000);

  test('fault case: scancel one running task, resubmit it; the journal resumes and the merged result is identical', async () => {
    const out = path.join(tmp, 'fault');
    const victim = 1; // shard 1 holds attack jobs 1 (fast) and 5 (pgd-long): it is cancelled inside job 5
    const job = sbatch(out, [`--array=0-${SHARDS - 1}`, '--cpus-per-task=1', `--output=${out}/slurm-%A_%a.out`, script, spec, out]);
    const journal = path.join(out, `shard-${victim}`, 'journal.jsonl');
    const end = Date.now() + 300000;
    while (!(fs.existsSync(journal) && readJournal(path.join(out, `shard-${victim}`)).some((e) => e.kind === 'runs'))) {
      if (Date.now() > end) throw new Error(`shard ${victim} wrote no attack result in 300 s`);
      await sleep(150);
    }
    cluster.run('scancel', [`${job}_${victim}`]);
    const doneBefore = readJournal(path.join(out, `shard-${victim}`)).filter((e) => e.kind === 'runs').length;
    await waitIdle(420);
    expect(fs.existsSync(path.join(out, `shard-${victim}`, '.opulab-shard-done'))).toBe(false); // it was cut short
    expect(doneBefore).toBeGreaterThanOrEqual(1);
    expect(fs.existsSync(path.join(out, 'merged', 'results.json'))).toBe(false); // the merge job never ran
    const state = fs.readFileSync(path.join(out, `slurm-${job}_${victim}.out`), 'utf8');
    expect(state).toMatch(/CANCELLED/);

    const again = sbatch(out, [`--array=${victim}`, '--cpus-per-task=1', `--output=${out}/slurm-%A_%a.out`, script, spec, out]);
    await waitIdle(420);
    const resumed = fs.readFileSync(path.join(out, `slurm-${again}_${victim}.out`), 'utf8');
    expect(resumed).toMatch(/already done/); // the finished job was skipped, not redone
    const entries = readJournal(path.join(out, `shard-${victim}`));
    const keys = entries.map((e) => `${e.kind}:${e.key}`);
    expect(new Set(keys).size).toBe(keys.length); // nothing duplicated
    expect(comparable(merged(out))).toEqual(comparable(path.join(single, 'results.json')));
    process.stdout.write(`slurm-e2e: fault case: task ${job}_${victim} cancelled after ${doneBefore} finished job(s); resubmitted as ${again}; merged result identical\n`);
  }, 600000);
});
