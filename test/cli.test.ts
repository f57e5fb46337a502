import * as fs from 'fs';
import * as path from 'path';
import { runCli as run } from './helpers/cli';
import { ResultsFile } from '../src/results/schema';
import { tempDir } from './helpers/tmp';

const tmp = tempDir('opulab-cli-');

const common = ['--backend', 'wasm', '--seed', '1'];
const tinyModel = ['--model', 'vgg11', '--width', '0.125', '--dataset', 'synthetic', '--train-samples', '96', '--test-samples', '32', '--batch-size', '32', '--epochs', '1'];

describe('opulab CLI', () => {
  const base = path.join(tmp, 'base');
  const opt = path.join(tmp, 'opt');
  const results = path.join(tmp, 'res', 'results.json');

  it('train writes checkpoints and a summary line', async () => {
    const a = await run(['train', ...tinyModel, '--defense', 'none', '--training', 'bp', '--out', base, ...common]);
    expect(a.err).not.toMatch(/internal error/);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/vgg11-w0.125-none-bp: 1 epochs, test accuracy .*% on 32 images, .* img\/s/);
    const b = await run(['train', ...tinyModel, '--defense', 'optical', '--training', 'hybrid', '--opu-in', '32', '--opu-out', '64', '--optimizer', 'sgd', '--out', opt, ...common]);
    expect(b.code).toBe(0);
    expect(fs.existsSync(path.join(opt, 'model.json'))).toBe(true);
  });

  it('attack appends runs (pixel and normalized eps, gradient modes) to results.json', async () => {
    const a = await run(['attack', '--checkpoint', opt, '--attack', 'pgd', '--eps', '0,4/255', '--steps', '2', '--gradient', 'bpda-true', '--samples', '16', '--out', results, ...common]);
    expect(a.err).not.toMatch(/internal error/);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/pgd linf eps 4\/255 \(bpda-true\): clean .* -> robust .* on 16 images/);
    const b = await run(['attack', '--checkpoint', opt, '--attack', 'fgsm', '--eps', '0.01', '--eps-space', 'normalized', '--samples', '16', '--out', results, ...common]);
    expect(b.code).toBe(0);
    const c = await run(['attack', '--checkpoint', base, '--attack', 'square', '--eps', '8/255', '--queries', '10', '--samples', '8', '--out', results, ...common]);
    expect(c.code).toBe(0);
    const r = JSON.parse(fs.readFileSync(results, 'utf8')) as ResultsFile;
    expect(r.runs).toHaveLength(4);
    expect(r.models.map((m) => m.id).sort()).toEqual(['vgg11-w0.125-none-bp', 'vgg11-w0.125-optical-hybrid']);
    const fgsm = r.runs[2];
    expect(fgsm.epsSpace).toBe('normalized');
    expect(fgsm.epsInSpace).toBeCloseTo(0.01, 9);
    expect(fgsm.eps).toBeCloseTo(0.005, 9); // std 0.5
    const square = fs.readFileSync(path.join(path.dirname(results), r.runs[3].perSample!), 'utf8').trim().split('\n');
    expect(square.map((l) => JSON.parse(l).queries)).toEqual(square.map(() => expect.any(Number)));
    for (const run of r.runs) expect(fs.existsSync(path.join(path.dirname(results), run.perSample!))).toBe(true);
  });

  it('transfer and report', async () => {
    const t = await run(['transfer', '--source', base, '--targets', opt, '--attack', 'fgsm', '--eps', '8/255', '--samples', '16', '--out', results, ...common]);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/vgg11-w0.125-none-bp -> vgg11-w0.125-optical-hybrid eps 8\/255: robust .* common-correct/);
    const html = path.join(tmp, 'res', 'report.html');
    const r = await run(['report', results, '--out', html]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).toMatch(/vgg11-w0.125-optical-hybrid/);
  });

  it('presets expand into their fixed protocol', async () => {
    const res = path.join(tmp, 'preset', 'results.json');
    const a = await run(['attack', '--checkpoint', base, '--preset', 'reference-whitebox', '--samples', '4', '--out', res, ...common]);
    expect(a.err).not.toMatch(/internal error/);
    expect(a.code).toBe(0);
    const r = JSON.parse(fs.readFileSync(res, 'utf8')) as ResultsFile;
    // FGSM + PGD-50, each at eps 0, .01, ..., .05 normalized
    expect(r.runs.map((x) => x.attack)).toEqual([...Array(6).fill('fgsm'), ...Array(6).fill('pgd')]);
    expect(r.runs.map((x) => x.epsInSpace)).toEqual([0, 0.01, 0.02, 0.03, 0.04, 0.05, 0, 0.01, 0.02, 0.03, 0.04, 0.05]);
    const pgd = r.runs[8];
    expect(pgd.params).toMatchObject({ steps: 50, stepSize: 0.005, randomStart: false });
    expect((await run(['attack', '--checkpoint', base, '--out', res, ...common])).code).toBe(2);
  });

  it('transfer sets are saved and reused', async () => {
    const res = path.join(tmp, 'tset', 'results.json');
    const set = path.join(tmp, 'tset', 'set');
    const a = await run(['transfer', '--source', base, '--targets', opt, '--attack', 'pgd', '--steps', '2', '--eps', '8/255', '--samples', '8', '--save-set', set, '--out', res, ...common]);
    expect(a.code).toBe(0);
    expect(fs.existsSync(path.join(set, 'manifest.json'))).toBe(true);
    const b = await run(['transfer', '--source', base, '--targets', opt, '--eps', '8/255', '--samples', '8', '--load-set', set, '--out', res, ...common]);
    expect(b.code).toBe(0);
    const r = JSON.parse(fs.readFileSync(res, 'utf8')) as ResultsFile;
    expect(r.runs[1].robustAccuracy).toBe(r.runs[0].robustAccuracy);
    const c = await run(['transfer', '--source', base, '--targets', opt, '--samples', '6', '--load-set', set, '--out', res, ...common]);
    expect(c.code).toBe(2);
  });

  it('plugins: a defense plugin trains and an attack plugin runs through the CLI, and both appear in the report and list', async () => {
    const plug = path.join(__dirname, '..', 'examples', 'plugins');
    const defense = path.join(plug, 'bit-depth-noise-defense.js');
    const attack = path.join(plug, 'momentum-pgd-attack.js');
    const ck = path.join(tmp, 'plug');
    const t = await run(['train', ...tinyModel, '--defense', defense, '--defense-param', 'bits=4', '--out', ck, ...common]);
    expect(t.err).not.toMatch(/internal error/);
    expect(t.code).toBe(0);
    const res = path.join(tmp, 'plugres', 'results.json');
    const a = await run(['attack', '--checkpoint', ck, '--attack', attack, '--eps', '8/255', '--samples', '8', '--eot', '2', '--gradient', 'bpda-none', '--out', res, ...common]);
    expect(a.err).not.toMatch(/internal error/);
    expect(a.code).toBe(0);
    const r = JSON.parse(fs.readFileSync(res, 'utf8')) as ResultsFile;
    expect(r.models[0].id).toMatch(/bit-depth-noise/);
    expect(r.runs[0].attack).toMatch(/momentum/);
    expect(r.runs[0].eot).toBeDefined(); // the plugin's noise makes the model stochastic
    const html = path.join(tmp, 'plugres', 'report.html');
    expect((await run(['report', res, '--out', html])).code).toBe(0);
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toMatch(/bit-depth-noise/);
    expect(page).toMatch(/momentum/);
    const l = await run(['list', '--defense-plugin', defense, '--attack-plugin', attack]);
    expect(l.out).toMatch(/defense\s+bit-depth-noise/);
    expect(l.out).toMatch(/momentum/);
    expect(l.out.split('\n').filter((x) => x.includes('momentum-pgd'))).toHaveLength(1); // listed once
  });

  it('list shows every kind of thing', async () => {
    const l = await run(['list']);
    expect(l.code).toBe(0);
    for (const s of ['model    vgg16', 'defense  optical', 'attack   pgd', 'attack   square', 'gradient bpda-true', 'dataset  cifar10', 'backend  wasm']) expect(l.out).toContain(s);
  });

  it('bad input: one line naming the value, exit code 2, nothing written', async () => {
    const before = fs.readFileSync(results, 'utf8');
    const cases: [string[], RegExp][] = [
      [['attack', '--checkpoint', opt, '--attack', 'pgd', '--eps', 'abc', '--out', results], /eps 'abc'/],
      [['attack', '--checkpoint', opt, '--attack', 'nope', '--out', results], /unknown attack 'nope'/],
      [['attack', '--checkpoint', path.join(tmp, 'none'), '--attack', 'pgd', '--out', results], /no model.json/],
      [['attack', '--checkpoint', opt, '--attack', 'pgd', '--gradient', 'magic', '--out', results], /unknown gradient mode 'magic'/],
      [['train', '--model', 'vgg99', '--dataset', 'synthetic', '--out', path.join(tmp, 'x')], /unknown model 'vgg99'/],
      [['train', '--dataset', 'imagenet', '--out', path.join(tmp, 'x')], /imagenet/],
      [['train', '--dataset', 'cifar10', '--data-dir', path.join(tmp, 'empty'), '--no-download', '--out', path.join(tmp, 'x')], /cifar/i],
      [['bogus-command'], /unknown command 'bogus-command'/],
      // usage errors stop before any work: nothing attacked, trained or written
      [['attack', '--checkpoint', opt, '--attack', 'pgd', '--eps', '-8/255', '--out', results], /^opulab: bad --eps '-8\/255': an eps cannot be negative/],
      [['attack', '--checkpoint', opt, '--attack', 'pgd', '--stpes', '3', '--out', results], /^opulab: unknown option --stpes for 'attack' \(did you mean --steps\?\)$/],
      [['attack', '--checkpoint', opt, '--attack', 'pgd', '--eps-space', 'nromalized', '--out', results], /^opulab: bad --eps-space "nromalized": expected one of "pixel", "normalized"$/],
      [['attack', '--checkpoint', opt, '--attack', 'pgd', '--out', results, '--eps'], /^opulab: --eps: missing value$/],
      [['train', ...tinyModel, '--epoch', '3', '--out', path.join(tmp, 'x')], /^opulab: unknown option --epoch for 'train' \(did you mean --epochs\?\)$/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run([...args, '--backend', 'wasm']);
      expect(r.code).toBe(2);
      const lines = r.err.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('opulab: backend') && !l.startsWith("Run 'opulab --help'"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
    expect(fs.readFileSync(results, 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });

  it('a bad OPULAB_CONV_KERNELS is one line and exit code 2', async () => {
    const saved = process.env.OPULAB_CONV_KERNELS;
    process.env.OPULAB_CONV_KERNELS = 'turbo';
    try {
      const r = await run(['train', ...tinyModel, '--out', path.join(tmp, 'never'), ...common]);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n').filter((l) => !l.startsWith('opulab: backend'))).toEqual([
        "opulab: OPULAB_CONV_KERNELS='turbo': expected auto, fma, plain or xnnpack",
      ]);
      expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.OPULAB_CONV_KERNELS;
      else process.env.OPULAB_CONV_KERNELS = saved;
    }
  });
});
