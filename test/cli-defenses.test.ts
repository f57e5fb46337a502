/**
 * Defense plugins through the CLI, as a new user meets them: each failure a plugin defense used to hit
 * (backend not initialised on `train`/`list`, lost BPDA modes in specs, gradient and defense recorded wrong,
 * defended-model checks skipped, internal errors from a throwing plugin) has a case here. This file's first
 * command runs before any tfjs backend exists in its module registry, as in a fresh `opulab` process.
 */
import * as fs from 'fs';
import * as path from 'path';
import { runCli as run } from './helpers/cli';
import { ResultsFile } from '../src/results/schema';
import { gradientModesFor } from '../defenses/registry';
import { tempDir } from './helpers/tmp';

const tmp = tempDir('opulab-cli-def-');

const EXAMPLES = path.join(__dirname, '..', 'examples', 'plugins');
const common = ['--backend', 'wasm', '--seed', '1', '--workers', '1'];
const tiny = ['--model', 'vgg11', '--width', '0.125', '--opu-in', '32', '--dataset', 'synthetic', '--train-samples', '64', '--test-samples', '32', '--batch-size', '32', '--epochs', '1'];
/** The lines of stderr that are not progress bars or the backend notice. */
const errorLines = (err: string): string[] => err.split('\n').filter((l) => l.startsWith('opulab:') && !l.startsWith('opulab: backend') && !l.includes('warning'));

describe('defense plugins through the CLI', () => {
  // a copy, so the tests can later edit "the user's file"
  const plugin = path.join(tmp, 'my-squeeze.js');
  fs.copyFileSync(path.join(EXAMPLES, 'bit-depth-defense.js'), plugin);
  const ck = path.join(tmp, 'ck');
  const res = path.join(tmp, 'res', 'results.json');

  it('list --defense-plugin F works in a fresh process (no backend yet) and shows its gradient modes', async () => {
    const l = await run(['list', '--defense-plugin', plugin, '--backend', 'wasm']);
    expect(l.err).not.toMatch(/internal error|has not yet been initialized/);
    expect(l.code).toBe(0);
    expect(l.out).toMatch(/defense\s+bit-depth\s+bit-depth reduction.*\[plugin .*my-squeeze\.js\]; gradients: natural, bpda-none/);
    expect(l.out).toMatch(/defense\s+optical .*gradients: natural, bpda-random, bpda-true, bpda-estimated\[:N\], bpda-none, true \(dfa\/hybrid\)/);
  });

  it('train --defense ./x.js trains and records the plugin (file, sha256, params)', async () => {
    const t = await run(['train', ...tiny, '--defense', plugin, '--defense-param', 'bits=4', '--out', ck, ...common]);
    expect(t.err).not.toMatch(/internal error/);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/vgg11-w0.125-bit-depth-bp: 1 epochs/);
    const meta = JSON.parse(fs.readFileSync(path.join(ck, 'model.json'), 'utf8'));
    expect(meta.config.plugin).toMatchObject({ path: plugin, name: 'bit-depth', params: { bits: 4 }, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('attack records the gradient mode actually used and the defense (name, file + sha256, params); undeclared modes are refused', async () => {
    for (const g of ['natural', 'bpda-none']) {
      const a = await run(['attack', '--checkpoint', ck, '--attack', 'pgd', '--eps', '8/255', '--steps', '2', '--samples', '8', '--gradient', g, '--out', res, ...common]);
      expect(a.err).not.toMatch(/internal error/);
      expect(a.code).toBe(0);
      expect(a.out).toContain(`(${g})`);
    }
    const r = JSON.parse(fs.readFileSync(res, 'utf8')) as ResultsFile;
    expect(r.schema).toBe('opulab.results/2');
    expect(r.runs.map((x) => x.gradient)).toEqual(['natural', 'bpda-none']);
    expect(r.models[0]).toMatchObject({ defense: 'bit-depth', defenseInfo: { name: 'bit-depth', source: 'file', path: plugin, params: { bits: 4 }, head: 'none', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const bad = await run(['attack', '--checkpoint', ck, '--attack', 'pgd', '--gradient', 'bpda-true', '--samples', '4', '--out', res, ...common]);
    expect(bad.code).toBe(2);
    expect(errorLines(bad.err)).toEqual([expect.stringMatching(/unknown gradient mode 'bpda-true' for model 'vgg11-w0.125-bit-depth-bp' \(defense bit-depth\): expected one of natural, bpda-none/)]);
  });

  it('report shows the plugin defense with its parameters; defended-model checks count it', async () => {
    // an undefended baseline attacked the same way, so C13 has something to compare with
    const base = path.join(tmp, 'base');
    expect((await run(['train', ...tiny, '--out', base, ...common])).code).toBe(0);
    expect((await run(['attack', '--checkpoint', base, '--attack', 'pgd', '--eps', '8/255', '--steps', '2', '--samples', '8', '--out', res, ...common])).code).toBe(0);
    const html = path.join(tmp, 'res', 'report.html');
    const rep = await run(['report', res, '--out', html]);
    expect(rep.code).toBe(0);
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toMatch(/bit-depth<\/span> <span class="muted">bits=4 · plugin my-squeeze\.js<\/span>/);
    const checks = (JSON.parse(fs.readFileSync(res, 'utf8')) as ResultsFile).checks;
    const { computeChecks } = await import('../reports/checks');
    const { loadResultsFile, perSampleLoaderFor } = await import('../reports/load');
    const fresh = computeChecks(loadResultsFile(res), perSampleLoaderFor(res));
    for (const id of ['C8', 'C10', 'C13', 'C17']) {
      const c = fresh.find((x) => x.id === id)!;
      expect(c.detail).not.toMatch(/no defended model/);
    }
    // C10: the plugin model was attacked through one BPDA surrogate (bpda-none) besides its natural gradient
    expect(fresh.find((x) => x.id === 'C10')!.detail).toMatch(/vgg11-w0.125-bit-depth-bp/);
    void checks;
  });

  it('a spec: a plugin model gets exactly the gradient modes its defense declares; a mode no attacked model declares is an error, not 0 attacks', async () => {
    const spec = (gradients: string[]) => ({
      name: 'plug',
      seed: 1,
      dataset: 'synthetic',
      data: { trainSamples: 64, testSamples: 16, attackSamples: 8, evalBatchSize: 8 },
      models: [{ name: 'sq', architecture: 'vgg11', width: 0.125, defense: plugin, defenseParams: { bits: 4 }, opuIn: 32, train: { epochs: 1, batchSize: 32, schedule: 'constant' } }],
      attacks: [{ attack: 'fgsm', eps: ['8/255'], gradients }],
    });
    const good = path.join(tmp, 'good.json');
    fs.writeFileSync(good, JSON.stringify(spec(['bpda-none'])));
    const out = path.join(tmp, 'specrun');
    const r = await run(['run', good, '--out', out, ...common]);
    expect(r.err).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as ResultsFile;
    expect(results.runs.map((x) => x.gradient)).toEqual(['bpda-none']);
    expect(results.models[0]).toMatchObject({ defense: 'bit-depth', defenseInfo: { source: 'file', params: { bits: 4 } } });
    const none = path.join(tmp, 'none.json');
    fs.writeFileSync(none, JSON.stringify(spec(['bpda-true', 'bpda-random'])));
    const e = await run(['run', none, '--out', path.join(tmp, 'specrun2'), ...common]);
    expect(e.code).toBe(2);
    expect(errorLines(e.err)).toEqual([expect.stringMatching(/spec\.attacks\[0\]\.gradients\[0\]: 'bpda-true' is declared by none of the attacked models' defenses \(sq: natural, bpda-none\)/)]);
    expect(fs.existsSync(path.join(tmp, 'specrun2'))).toBe(false);
    // one mode that fits and one that fits no model: the whole spec is refused before any work (nothing silently dropped)
    const mixed = path.join(tmp, 'mixed.json');
    fs.writeFileSync(mixed, JSON.stringify(spec(['bpda-none', 'bpda-true'])));
    const m = await run(['run', mixed, '--out', path.join(tmp, 'specrun3'), ...common]);
    expect(m.code).toBe(2);
    expect(errorLines(m.err)).toEqual([expect.stringMatching(/spec\.attacks\[0\]\.gradients\[1\]: 'bpda-true' is declared by none/)]);
    expect(fs.existsSync(path.join(tmp, 'specrun3'))).toBe(false);
  });

  it('gradientModesFor: the modes a defense declares, with what each means', () => {
    expect(gradientModesFor('optical', { training: 'hybrid' }).map((m) => m.name)).toEqual(['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-estimated', 'bpda-none']);
    expect(gradientModesFor('dfa-only').map((m) => m.name)).toEqual(['natural']);
    const plug = gradientModesFor(plugin);
    expect(plug.map((m) => m.name)).toEqual(['natural', 'bpda-none']);
    expect(plug[1].surrogate).toMatch(/plugin's surrogate/);
    expect(gradientModesFor(path.join(EXAMPLES, 'random-resize-pad-defense.js')).map((m) => m.name)).toEqual(['natural']);
  });
});

describe('a plugin that throws: one line naming the file, the hook and the message; exit 2; nothing written is lost', () => {
  const write = (name: string, body: string): string => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, `module.exports = { name: 'thrower', surrogate: 'identity', transformInput(x, ctx) { ${body} return ctx.tf.clone(x); } };\n`);
    return f;
  };

  it('at load (its trial run)', async () => {
    const f = write('load.js', "throw new Error('bad at load');");
    const r = await run(['train', ...tiny, '--defense', f, '--out', path.join(tmp, 'l'), ...common]);
    expect(r.code).toBe(2);
    expect(errorLines(r.err)).toEqual([`opulab: defense plugin '${f}': transformInput threw on a [2,4,4,3] test batch: bad at load`]);
    expect(fs.existsSync(path.join(tmp, 'l', 'model.json'))).toBe(false);
  });

  it('in a training step', async () => {
    const f = write('train.js', "if (ctx.training) throw new Error('bad in training');");
    const r = await run(['train', ...tiny, '--defense', f, '--out', path.join(tmp, 't'), ...common]);
    expect(r.code).toBe(2);
    expect(errorLines(r.err)).toEqual([`opulab: defense plugin '${f}': transformInput threw during a training step: bad in training`]);
  });

  it('in evaluation inside a worker thread, after the file changed: results.json is untouched', async () => {
    const f = write('eval.js', '');
    const ckpt = path.join(tmp, 'e');
    expect((await run(['train', ...tiny, '--defense', f, '--out', ckpt, ...common])).code).toBe(0);
    const out = path.join(tmp, 'eres', 'results.json');
    expect((await run(['attack', '--checkpoint', ckpt, '--attack', 'fgsm', '--samples', '8', '--out', out, ...common])).code).toBe(0);
    const before = fs.readFileSync(out, 'utf8');
    // the user edits the plugin: now it fails on real 32x32 images (its 4x4 trial batch still passes)
    write('eval.js', "if (x.shape[1] === 32 && !ctx.training) throw new Error('bad in evaluation');");
    const r = await run(['attack', '--checkpoint', ckpt, '--attack', 'fgsm', '--samples', '8', '--batch-size', '4', '--out', out, '--backend', 'wasm', '--seed', '1', '--workers', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/warning: defense plugin '.*eval\.js' changed since this model was built/);
    expect(errorLines(r.err)).toEqual([expect.stringMatching(new RegExp(`^opulab: (worker \\d+: )?defense plugin '${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': transformInput threw during evaluation: bad in evaluation$`))]);
    expect(fs.readFileSync(out, 'utf8')).toBe(before);
  });
});
