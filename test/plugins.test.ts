import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig, modelId } from '../src/models/config';
import { classifierFor } from '../src/models/classifier';
import { loadDefensePlugin, applyDefensePlugin, loadAttackPlugin, resolveAttack, listPlugins, parseParamPairs } from '../src/plugins';
import { createAttack, describeAttacks } from '../attacks/registry';
import { withEot } from '../attacks/eot';
import { crossEntropyLoss } from '../attacks/losses';
import { saveCheckpoint } from '../src/training/checkpoint';
import { loadNetwork, trainStep } from '../src/training/trainer';
import { Optimizer, defaultOptimizerConfig } from '../src/training/optimizers';
import { UserError } from '../src/util/errors';
import { ToyLinear } from './helpers/blackbox-toys';

const EXAMPLES = path.join(__dirname, '..', 'examples', 'plugins');
const DEFENSE = path.join(EXAMPLES, 'bit-depth-noise-defense.js');
const ATTACK = path.join(EXAMPLES, 'momentum-pgd-attack.js');

const base = (p: Partial<ModelConfig> = {}): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 2, ...p });

let tmp: string;
let x: tf.Tensor4D;
beforeAll(async () => {
  await initBackend('wasm', true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-plugins-'));
  x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
});
afterAll(() => {
  x.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writePlugin(name: string, source: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, source);
  return file;
}

describe('defense plugin: bit-depth + noise example', () => {
  it('loads with its defaults, merges user params (strings from the CLI are converted) and records them', () => {
    const d = loadDefensePlugin(DEFENSE, parseParamPairs(['bits=3']));
    expect(d.params).toEqual({ bits: 3, noiseStd: 0.03 });
    expect(d.transform?.stochastic).toBe(true);
    const cfg = applyDefensePlugin(base(), d);
    expect(cfg.plugin).toMatchObject({ path: DEFENSE, name: 'bit-depth-noise', params: { bits: 3, noiseStd: 0.03 } });
    expect(modelId(cfg)).toBe('vgg11-w0.125-bit-depth-noise-bp');
    expect(() => loadDefensePlugin(DEFENSE, { levels: 3 })).toThrow(/unknown parameter 'levels': expected one of bits, noiseStd/);
    expect(() => loadDefensePlugin(DEFENSE, { bits: 'many' })).toThrow(/bad bits 'many': expected a number/);
    // the plugin's own check runs at load time, with the file named
    expect(() => loadDefensePlugin(DEFENSE, { bits: 12 })).toThrow(/bit-depth-noise-defense.js.*transformInput threw.*bits must be an integer in 1..8/);
  });

  it('Network applies the transform before normalization: k-bit levels without noise', () => {
    const cfg = applyDefensePlugin(base(), loadDefensePlugin(DEFENSE, { bits: 2, noiseStd: 0 }));
    const net = new Network(cfg);
    const seen: number[] = [];
    tf.tidy(() => {
      net.forward(x, { training: false, gradient: { dfa: false, sign: 'zero', opu: 'none' }, observe: (name, t) => {
        if (name === 'input-transform') seen.push(...t.dataSync());
      } });
    });
    // 2 bits: levels 0, 1/3, 2/3, 1; each pixel rounds to the nearest
    expect(new Set(seen.map((v) => Math.round(v * 3)))).toEqual(new Set([0, 1, 2, 3]));
    const xs = x.dataSync();
    expect(seen.every((v, i) => Math.abs(v - Math.round(xs[i] * 3) / 3) < 1e-6)).toBe(true);
    net.dispose();
  });

  it('stochastic: fresh seeded noise per call, the same sequence for the same seed; EOT kicks in', () => {
    const cfg = applyDefensePlugin(base(), loadDefensePlugin(DEFENSE));
    const a = new Network(cfg);
    const b = new Network(cfg);
    expect(a.stochastic).toBe(true);
    const seq = (n: Network): Float32Array[] => [0, 1].map(() => tf.tidy(() => n.predictLogits(x).dataSync() as Float32Array));
    const [a1, a2] = seq(a);
    const [b1, b2] = seq(b);
    expect(Array.from(a1)).toEqual(Array.from(b1));
    expect(Array.from(a2)).toEqual(Array.from(b2));
    expect(Array.from(a1)).not.toEqual(Array.from(a2));
    const c = classifierFor(a);
    expect(c.stochastic).toBe(true);
    expect(withEot(c).eot.samples).toBe(20);
    a.dispose();
    b.dispose();
  });

  it('natural gradient through rounding is zero; the BPDA surrogate is straight-through (= plugin-less gradient at T(x))', () => {
    const loaded = loadDefensePlugin(DEFENSE, { bits: 3, noiseStd: 0 });
    const net = new Network(applyDefensePlugin(base(), loaded));
    const plain = new Network(base()); // same seed: same weights
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const natural = classifierFor(net).lossAndGradient(x, labels, crossEntropyLoss);
    expect(tf.tidy(() => tf.max(tf.abs(natural.grad)).dataSync()[0])).toBe(0);
    const bpda = classifierFor(net, 'bpda-none');
    expect(bpda.gradientMode).toBe('bpda-none');
    const g = bpda.lossAndGradient(x, labels, crossEntropyLoss);
    const squeezed = tf.tidy(() => tf.div(tf.round(tf.mul(x, 7)), 7) as tf.Tensor4D);
    const ref = classifierFor(plain).lossAndGradient(squeezed, labels, crossEntropyLoss);
    const rel = tf.tidy(() => tf.norm(tf.sub(g.grad, ref.grad)).dataSync()[0] / tf.norm(ref.grad).dataSync()[0]);
    expect(rel).toBeLessThan(1e-5);
    expect(tf.tidy(() => tf.norm(ref.grad).dataSync()[0])).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r = bpda.lossAndGradient(x, labels, crossEntropyLoss);
      tf.dispose([r.loss, r.grad]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([natural.loss, natural.grad, g.loss, g.grad, squeezed, ref.loss, ref.grad, labels]);
    net.dispose();
    plain.dispose();
  });

  it('trains through the transform; the checkpoint reloads the plugin; a missing plugin file is a clear error', () => {
    const file = path.join(tmp, 'copied-defense.js');
    fs.copyFileSync(DEFENSE, file);
    const cfg = applyDefensePlugin(base(), loadDefensePlugin(file, { bits: 5 }));
    const net = new Network(cfg);
    const opt = new Optimizer(defaultOptimizerConfig('adam'));
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    expect(Number.isFinite(trainStep(net, opt, x, y, 0).loss)).toBe(true);
    const dir = path.join(tmp, 'ckpt');
    saveCheckpoint(dir, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
    const { net: back } = loadNetwork(dir);
    expect(back.inputTransform?.name).toBe('bit-depth-noise');
    expect(back.config.plugin?.params).toEqual({ bits: 5, noiseStd: 0.03 });
    net.resetInputTransformNoise();
    const same = tf.tidy(() => tf.max(tf.abs(tf.sub(back.predictLogits(x), net.predictLogits(x)))).dataSync()[0]);
    expect(same).toBe(0);
    back.dispose();
    fs.rmSync(file);
    expect(() => loadNetwork(dir)).toThrow(/defense plugin 'bit-depth-noise' from '.*copied-defense.js', which no longer exists/);
    tf.dispose(y);
    opt.dispose();
    net.dispose();
  });
});

describe('defense plugin validation: one clear UserError naming the file', () => {
  const cases: [string, string, RegExp][] = [
    ['missing.js', '', /defense plugin '.*nope.js': file not found/],
    ['syntax.js', 'module.exports = { name: "x", transformInput(x) { return x; ', /syntax.js' does not parse/],
    ['throws-on-load.js', 'throw new Error("boom at load");', /throws-on-load.js' failed to load: boom at load/],
    ['no-transform.js', 'module.exports = { name: "x" };', /no-transform.js' is invalid: give transformInput \(x, ctx\) => tensor, a head \(ctx\) => stages, or both/],
    ['bad-types.js', 'module.exports = { name: "x y", head: "laser", training: "magic", stochastic: "yes", transformInput: (x) => x };',
      /bad-types.js' is invalid: name must be .*; stochastic must be true or false; head must be one of none, optical.*; training must be one of bp, dfa, hybrid/],
    ['typo.js', 'module.exports = { name: "x", transformInput: (x) => x, surogate: "identity" };', /unknown member 'surogate'/],
    ['function.js', 'module.exports = function () {};', /function.js': exports function; expected an object/],
    ['shape.js', 'module.exports = { name: "x", transformInput: (x, ctx) => ctx.tf.slice(x, [0,0,0,0], [1,-1,-1,-1]) };', /shape.js': transformInput turned a float32 \[2,4,4,3\] batch into float32 \[1,4,4,3\]/],
    ['not-tensor.js', 'module.exports = { name: "x", transformInput: () => 42 };', /not-tensor.js': transformInput returned number, expected a tensor/],
  ];
  it.each(cases)('%s', (name, source, message) => {
    const file = name === 'missing.js' ? path.join(tmp, 'nope.js') : writePlugin(name, source);
    let err: unknown;
    try {
      loadDefensePlugin(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  it('a default export (exports.default) is accepted', () => {
    const file = writePlugin('default-export.js', 'exports.default = { name: "ident", transformInput: (x, ctx) => ctx.tf.clone(x) };');
    expect(loadDefensePlugin(file).plugin.name).toBe('ident');
  });
});

describe('attack plugin: momentum PGD example', () => {
  it('registers under its name with the file as origin and runs on the public Classifier API', async () => {
    const loaded = loadAttackPlugin(ATTACK);
    expect(loaded).toMatchObject({ name: 'momentum-pgd', threat: 'white-box', norm: 'linf' });
    expect(describeAttacks().find((a) => a.name === 'momentum-pgd')?.origin).toBe(ATTACK);
    expect(listPlugins().map((p) => `${p.kind}:${p.name}`)).toEqual(expect.arrayContaining(['defense:bit-depth-noise', 'attack:momentum-pgd']));
    const model = new ToyLinear([4, 4, 3], 5, 1);
    const xs = tf.randomUniform([8, 4, 4, 3], 0.2, 0.8, 'float32', 9) as tf.Tensor4D;
    const labels = Int32Array.from(tf.tidy(() => tf.argMax(model.logits(xs), 1)).dataSync());
    const attack = createAttack('momentum-pgd', { steps: 10, norm: 'linf' });
    expect(attack.params).toMatchObject({ steps: 10, decay: 1, relStepSize: 0.25 });
    const [o1, o2] = await attack.run(model, xs, labels, [0.02, 0.3], { seed: 1 });
    const linf = (a: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, xs))).dataSync()[0]);
    expect(linf(o1.adversarial)).toBeLessThanOrEqual(0.02 + 1e-6);
    expect(linf(o2.adversarial)).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(o2.success.filter(Boolean).length).toBeGreaterThan(o1.success.filter(Boolean).length);
    // success = the prediction on the returned input differs from the label
    const pred = tf.tidy(() => tf.argMax(model.logits(o2.adversarial), 1)).dataSync();
    expect(o2.success).toEqual(Array.from(labels, (l, i) => pred[i] !== l));
    tf.dispose([o1.adversarial, o2.adversarial]);

    // one step from x: x + alpha * sign(grad) (momentum of one L1-normalized gradient has the gradient's sign)
    const [one] = await createAttack('momentum-pgd', { steps: 1, relStepSize: 1 }).run(model, xs, labels, [0.05], { seed: 1 });
    const g = model.lossAndGradient(xs, tf.tensor1d(labels, 'int32'), crossEntropyLoss);
    const expected = tf.tidy(() => tf.clipByValue(tf.add(xs, tf.mul(tf.sign(g.grad), 0.05)), 0, 1));
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(one.adversarial, expected))).dataSync()[0])).toBeLessThan(1e-6);
    tf.dispose([one.adversarial, expected, g.loss, g.grad]);

    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const [o] = await attack.run(model, xs, labels, [0.05], { seed: i });
      o.adversarial.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => createAttack('momentum-pgd', { steps: 0 })).toThrow(/momentum-pgd-attack.js'.*steps must be a positive integer/);
    expect(() => createAttack('momentum-pgd', { norm: 'l2' })).toThrow(UserError);
    xs.dispose();
    model.dispose();
  });

  it('attacks a plugin-defended Network under EOT through resolveAttack(path)', async () => {
    const net = new Network(applyDefensePlugin(base(), loadDefensePlugin(DEFENSE)));
    const labels = Int32Array.from([0, 1, 2, 3]);
    const model = withEot(classifierFor(net), { samples: 2 });
    const attack = resolveAttack(ATTACK, { steps: 2 });
    const [o] = await attack.run(model, x, labels, [8 / 255], { seed: 0 });
    expect(o.adversarial.shape).toEqual(x.shape);
    expect(model.samplesDrawn).toBe(4);
    o.adversarial.dispose();
    net.dispose();
  });
});

describe('attack plugin validation', () => {
  const good = 'run: async (m, x, labels, eps) => eps.map((e) => ({ eps: e, adversarial: x.clone(), success: Array.from(labels, () => false) }))';
  it.each([
    ['no-create.js', 'module.exports = { name: "a1", threat: "white-box", norm: "linf" };', /no-create.js' is invalid: create must be a function/],
    ['bad-threat.js', 'module.exports = { name: "a2", threat: "grey-box", norm: "l3", create() {} };', /threat must be one of white-box.*; norm must be linf or l2/],
    ['shadows.js', `module.exports = { name: "pgd", threat: "white-box", norm: "linf", create: () => ({ name: "pgd", threat: "white-box", norm: "linf", params: {}, ${good} }) };`, /name 'pgd' is already taken by a built-in attack/],
    ['factory-throws.js', 'module.exports = { name: "a3", threat: "white-box", norm: "linf", create() { throw new Error("no GPU"); } };', /factory-throws.js': create\(\{\}\) threw: no GPU/],
    ['returns-junk.js', 'module.exports = { name: "a4", threat: "white-box", norm: "linf", create: () => ({ name: "a4" }) };', /returns-junk.js': create\(\) is invalid: the attack's threat must be/],
  ])('%s', (name, source, message) => {
    expect(() => loadAttackPlugin(writePlugin(name, source))).toThrow(message);
  });

  it('malformed outcomes and a throwing run() become UserErrors naming the file', async () => {
    const bad = writePlugin('bad-run.js', `module.exports = { name: "a5", threat: "white-box", norm: "linf", create: (p) => ({ name: "a5", threat: "white-box", norm: "linf", params: p,
      run: async (m, x, labels, eps) => { if (p.explode) throw new TypeError("undefined is not a function"); return [{ eps: eps[0], adversarial: x.clone(), success: [true] }]; } }) };`);
    loadAttackPlugin(bad);
    const model = new ToyLinear([4, 4, 3], 5, 1);
    const xs = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await expect(createAttack('a5').run(model, xs, Int32Array.from([0, 1]), [0.1], { seed: 0 })).rejects.toThrow(/bad-run.js': outcome 0 needs 'success', 2 booleans/);
    await expect(createAttack('a5').run(model, xs, Int32Array.from([0, 1]), [0.1, 0.2], { seed: 0 })).rejects.toThrow(/one outcome per eps \(2\), got 1/);
    await expect(createAttack('a5', { explode: true }).run(model, xs, Int32Array.from([0, 1]), [0.1], { seed: 0 })).rejects.toThrow(/bad-run.js': run\(\) failed: undefined is not a function \(at .*bad-run.js:\d+:\d+\)/);
    expect(tf.memory().numTensors).toBe(before);
    xs.dispose();
    model.dispose();
  });
});
