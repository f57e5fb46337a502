/**
 * Fuzzing the inputs: hundreds of seeded mutations of valid specs (deleted / renamed fields, wrong types,
 * out-of-range numbers, bad eps strings, unknown names) and of valid command lines (option typos, missing values,
 * bad choices, unknown options and commands). Every case must end with exit 0, or exit 2 with ONE line on stderr
 * (plus the --help hint for usage errors): never exit 1, never a stack trace; no file that existed before may
 * change, and a case that exits 2 creates no file. Spec cases use `opulab run SPEC --check` (validate + plan, no
 * work); the CLI runs in this process (main(argv) returns the exit code), and a few child processes check the real
 * exit code and streams end to end.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { runCli as cli } from './helpers/cli';
import { makeRng, Rng } from '../src/util/rng';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
const tmp = tempDir('opulab-fuzz-');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** size + mtime + inode of every file under the watched folders. */
function snapshot(dirs: string[]): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.statSync(p);
        m.set(p, `${s.size}:${s.mtimeMs}:${s.ino}`);
      }
    }
  };
  dirs.forEach(walk);
  return m;
}

const HINT = "Run 'opulab --help' for usage.";
/** Informational line printed when a command starts its backend (before any work). */
const BACKEND = /^opulab: backend /;

interface Outcome {
  code: number;
  err: string;
}

/** The contract every case must meet; returns a description of the violation, or null. */
function violation(r: Outcome, before: Map<string, string>, after: Map<string, string>): string | null {
  if (r.code !== 0 && r.code !== 2) return `exit ${r.code}`;
  if (/internal error|\n\s+at .+:\d+:\d+/.test(r.err)) return 'stack trace on stderr';
  for (const [f, sig] of before) if (after.get(f) !== sig) return `changed or removed ${f}`;
  if (r.code === 2) {
    const lines = r.err.split('\n').filter((l) => l !== '' && !BACKEND.test(l) && l !== HINT);
    if (lines.length !== 1 || !lines[0].startsWith('opulab: ')) return `expected one error line, got ${JSON.stringify(lines)}`;
    const created = [...after.keys()].filter((f) => !before.has(f));
    if (created.length) return `exit 2 but created ${created[0]}`;
  }
  return null;
}

// ---- spec mutations ----

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** Every [container, key] in a JSON value (objects and arrays, depth first). */
function slots(v: Json, out: [Json[] | { [k: string]: Json }, string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([v, k]), slots(x, out);
  return out;
}

function typo(rng: Rng, s: string): string {
  if (s.length < 2) return `${s}x`;
  const i = rng.int(s.length - 1);
  switch (rng.int(4)) {
    case 0:
      return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2); // swap
    case 1:
      return s.slice(0, i) + s.slice(i + 1); // drop
    case 2:
      return s.slice(0, i) + s[i] + s.slice(i); // double
    default:
      return s.slice(0, i) + 'q' + s.slice(i + 1); // replace
  }
}

const BAD_VALUES: Json[] = [null, true, false, 0, -1, 1e9, 0.5, -0.25, '', 'abc', '-8/255', '8/0', '1/2/3', [], {}, ['x'], { x: 1 }, 'NaN'];
const UNKNOWN_NAMES = ['sqare', 'pgdd', 'magic', 'bpda-treu', 'adamm', 'imagenet', 'nobody', 'vgg99', 'bpda-estimated:0', 'tanh:-1'];

function mutateSpec(rng: Rng, spec: Json): string {
  const s = slots(spec);
  const [obj, key] = pick(rng, s);
  const kind = rng.int(7);
  const rec = obj as Record<string | number, Json>;
  switch (kind) {
    case 0:
      if (Array.isArray(obj)) obj.splice(key as number, 1);
      else delete rec[key];
      return `delete ${key}`;
    case 1:
      if (!Array.isArray(obj)) {
        rec[typo(rng, String(key))] = rec[key];
        delete rec[key];
        return `rename ${key}`;
      }
      rec[key] = pick(rng, BAD_VALUES);
      return `bad item ${key}`;
    case 2:
      rec[key] = pick(rng, BAD_VALUES);
      return `bad value ${key}`;
    case 3:
      if (typeof rec[key] === 'number') rec[key] = pick(rng, [-1, 0, -0.5, 1e12, 3.5, 5]);
      else rec[key] = pick(rng, UNKNOWN_NAMES);
      return `out of range / unknown name at ${key}`;
    case 4:
      rec[key] = pick(rng, ['-8/255', '8/0', 'x', '1//2', ' ', '+', '.', '1e999', '-0', '0x10']);
      return `bad eps string at ${key}`;
    case 5:
      if (!Array.isArray(obj)) rec[`${typo(rng, String(key))}Extra`] = 1;
      return `unknown field beside ${key}`;
    default:
      if (typeof rec[key] === 'string') rec[key] = typo(rng, rec[key] as string);
      else rec[key] = pick(rng, UNKNOWN_NAMES);
      return `typo in value at ${key}`;
  }
}

// ---- command-line mutations ----

function mutateArgs(rng: Rng, args: string[]): { args: string[]; what: string } {
  const a = [...args];
  const opts = a.map((x, i) => [x, i] as const).filter(([x]) => x.startsWith('--'));
  const kind = rng.int(7);
  if (kind === 0 && opts.length) {
    const [o, i] = pick(rng, opts);
    a[i] = `--${typo(rng, o.slice(2))}`;
    return { args: a, what: `option typo ${a[i]}` };
  }
  if (kind === 1 && opts.length) {
    const [o, i] = pick(rng, opts);
    if (i + 1 < a.length && !a[i + 1].startsWith('--')) a.splice(i + 1, 1);
    else a.push(o);
    return { args: a, what: `missing value for ${o}` };
  }
  if (kind === 2) {
    const vals = a.map((x, i) => [x, i] as const).filter(([, i]) => i > 0 && a[i - 1].startsWith('--') && !a[i].startsWith('--'));
    if (vals.length) {
      const [, i] = pick(rng, vals);
      a[i] = pick(rng, ['nromalized', 'l3', 'gpu', 'abc', '-8/255', '8/0', '-3', '0', '1e999', 'NaN', '', 'x,y', '{', '[]', 'bpda-treu', 'sqare']);
      return { args: a, what: `bad value for ${a[i - 1]}: ${a[i]}` };
    }
  }
  if (kind === 3) {
    a.splice(1 + rng.int(a.length), 0, pick(rng, ['--frobnicate', '--epoch', '--stpes', '--eps-spaces', '-z', '--no-such']), '3');
    return { args: a, what: 'unknown option' };
  }
  if (kind === 4) {
    a[0] = typo(rng, a[0]);
    return { args: a, what: `command typo ${a[0]}` };
  }
  if (kind === 5) {
    a.push(pick(rng, ['extra', '-8/255', '--', '-']));
    return { args: a, what: 'extra argument' };
  }
  if (opts.length) {
    const [o, i] = pick(rng, opts);
    const v = i + 1 < a.length && !a[i + 1].startsWith('--') ? [a[i + 1]] : [];
    a.push(o, ...v);
    return { args: a, what: `repeated ${o}` };
  }
  return { args: a, what: 'unchanged' };
}

describe('fuzz: seeded mutations of specs and command lines end in exit 0 or a one-line exit 2', () => {
  const specsDir = path.join(tmp, 'specs');
  const prev = path.join(tmp, 'prev-run');
  const empty = path.join(tmp, 'empty-data');
  const outs = path.join(tmp, 'out');
  // every case writes only under `outs` (a fresh folder per case); the spec files the test writes are not watched
  const watched = [prev, outs, path.join(root, 'examples'), path.join(root, 'test', 'fixtures')];
  const plugins = path.join(root, 'examples', 'plugins');

  beforeAll(() => {
    fs.mkdirSync(specsDir, { recursive: true });
    fs.mkdirSync(empty, { recursive: true });
    fs.mkdirSync(outs, { recursive: true });
    // an existing run directory (results.json + journal) that no case may touch
    fs.mkdirSync(prev, { recursive: true });
    fs.copyFileSync(path.join(root, 'test', 'fixtures', 'results-report.json'), path.join(prev, 'results.json'));
    fs.writeFileSync(path.join(prev, 'journal.jsonl'), '');
  });

  const baseSpecs: Json[] = [
    ...['quick.json', 'ablation-cifar10.json', 'cifar100.json', 'optimizer-sweep.json', 'reference-cifar10.json'].map((f) => JSON.parse(fs.readFileSync(path.join(root, 'examples', f), 'utf8')) as Json),
    JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'tiny-spec.json'), 'utf8')) as Json,
    {
      name: 'plugins',
      dataset: 'synthetic',
      data: { testSamples: 32, attackSamples: 8 },
      models: [{ name: 'p', architecture: 'vgg11', width: 0.125, defense: path.join(plugins, 'bit-depth-noise-defense.js'), defenseParams: { bits: 4 } }, { name: 'o', defense: 'optical', training: 'hybrid' }],
      attacks: [
        { attack: path.join(plugins, 'momentum-pgd-attack.js'), eps: ['8/255'], params: { steps: 2 } },
        { attack: 'pgd', eps: [0, '4/255'], gradients: ['natural', 'bpda-true'], models: ['o'] },
      ],
    },
  ];

  it('every base spec is valid (exit 0 with --check, nothing written)', async () => {
    for (const [i, s] of baseSpecs.entries()) {
      const f = path.join(specsDir, `base-${i}.json`);
      fs.writeFileSync(f, JSON.stringify(s));
      const r = await cli(['run', f, '--out', path.join(tmp, `base-out-${i}`), '--check']);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/valid spec .*nothing was run/);
      expect(fs.existsSync(path.join(tmp, `base-out-${i}`))).toBe(false);
    }
  });

  it('hundreds of spec and command-line mutations', async () => {
    const t0 = Date.now();
    const rng = makeRng(13, 'fuzz');
    const failures: string[] = [];
    const counts = { spec: 0, cli: 0, exit0: 0, exit2: 0 };
    const time: Record<string, number> = {};
    const check = async (args: string[], what: string): Promise<void> => {
      const before = snapshot(watched);
      const t = Date.now();
      const r = await cli(args);
      time[args[0]] = (time[args[0]] ?? 0) + Date.now() - t;
      const problem = violation(r, before, snapshot(watched));
      if (problem) failures.push(`${what}: opulab ${args.join(' ')} -> ${problem}\n${r.err}`);
      if (r.code === 0) counts.exit0++;
      else counts.exit2++;
    };

    for (let i = 0; i < 300; i++) {
      const spec = structuredClone(pick(rng, baseSpecs));
      const whats = Array.from({ length: 1 + rng.int(3) }, () => mutateSpec(rng, spec));
      const file = path.join(specsDir, `case-${i}.json`);
      fs.writeFileSync(file, JSON.stringify(spec));
      counts.spec++;
      await check(['run', file, '--out', path.join(outs, `spec-${i}`), '--check'], `spec ${whats.join(' + ')}`);
    }

    const tiny = path.join(root, 'test', 'fixtures', 'tiny-spec.json');
    const report = path.join(prev, 'results.json');
    const missing = path.join(tmp, 'no-such-checkpoint');
    const bases = (i: number): string[][] => {
      const out = path.join(outs, `cli-${i}`);
      return [
        ['list'],
        ['run', tiny, '--out', out, '--check', '--shard', '1/2'],
        ['attack', '--checkpoint', missing, '--attack', 'pgd', '--eps', '8/255,4/255', '--eps-space', 'pixel', '--norm', 'linf', '--steps', '3', '--gradient', 'bpda-true', '--samples', '8', '--out', path.join(out, 'results.json'), '--backend', 'wasm'],
        ['transfer', '--source', missing, '--targets', missing, '--attack', 'fgsm', '--eps', '8/255', '--samples', '8', '--out', path.join(out, 'results.json')],
        ['train', '--model', 'vgg11', '--width', '0.125', '--dataset', 'cifar10', '--data-dir', empty, '--epochs', '1', '--batch-size', '16', '--binarize-center', 'batch-mean', '--out', path.join(out, 'ck'), '--seed', '1'],
        ['probe', '--checkpoint', missing, '--attack', 'fgsm', '--eps', '8/255', '--samples', '8', '--out', path.join(out, 'probe.json')],
        ['merge', path.join(tmp, 'no-a'), path.join(tmp, 'no-b'), '--out', out],
        ['report', report, '--out', path.join(out, 'report.html'), '--title', 'fuzz'],
      ];
    };
    for (let i = 0; i < 220; i++) {
      const base = pick(rng, bases(i));
      // reports are the slowest valid case: mutate them less often
      if (base[0] === 'report' && rng.uniform() < 0.7) continue;
      const m = mutateArgs(rng, base);
      counts.cli++;
      await check(m.args, m.what);
    }
    const seconds = (Date.now() - t0) / 1000;
    process.stdout.write(
      `fuzz: ${counts.spec + counts.cli} cases (${counts.spec} spec mutations, ${counts.cli} command lines): ${counts.exit0} exit 0, ${counts.exit2} exit 2, ${failures.length} violations, ${seconds.toFixed(1)} s (ms per command: ${JSON.stringify(time)})\n`,
    );
    expect(failures.slice(0, 5)).toEqual([]);
    expect(counts.spec + counts.cli).toBeGreaterThanOrEqual(400);
    expect(counts.exit2).toBeGreaterThan(counts.exit0); // most mutations are errors
  });

  const cliJs = path.join(root, 'dist', 'src', 'cli', 'main.js');
  (fs.existsSync(cliJs) ? it : it.skip)('end to end in a child process: exit code 2, one line + hint on stderr, nothing written', () => {
    const ck = path.join(tmp, 'child-ck');
    const cases: [string[], number, RegExp][] = [
      [['train', '--epoch', '3', '--dataset', 'synthetic', '--out', ck], 2, /^opulab: unknown option --epoch for 'train' \(did you mean --epochs\?\)$/],
      [['attack', '--checkpoint', ck, '--attack', 'pgd', '--eps', '-8/255', '--out', path.join(ck, 'r.json')], 2, /^opulab: bad --eps '-8\/255': an eps cannot be negative/],
      [['atack'], 2, /^opulab: unknown command 'atack' \(did you mean 'attack'\?\)$/],
      [['run', path.join(root, 'test', 'fixtures', 'tiny-spec.json'), '--out', ck, '--check'], 0, /^$/],
    ];
    for (const [args, status, pattern] of cases) {
      const r = spawnSync(process.execPath, [cliJs, ...args], { encoding: 'utf8', timeout: 60000 });
      expect(r.status).toBe(status);
      const lines = r.stderr.split('\n').filter((l) => l !== '' && l !== HINT);
      if (status === 2) expect(lines).toHaveLength(1);
      expect(lines.join('\n')).toMatch(pattern);
      expect(fs.existsSync(ck)).toBe(false);
    }
  });
});
