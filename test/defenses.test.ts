/**
 * The defense registry and the Defense interface: built-ins are exactly the files of defenses/builtin/, each
 * declares a head that Network builds; a plugin may give its own head (primitive stages) and its own gradient
 * modes, and is then treated like a built-in (gradient modes, records, training).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig, modelId } from '../src/models/config';
import { classifierFor, gradientModesOf } from '../src/models/classifier';
import { applyDefensePlugin, loadDefensePlugin } from '../src/plugins';
import { builtinDefenseNames, builtinDefenses, defenseContext, gradientModesFor, resolveDefense } from '../defenses/registry';
import { crossEntropyLoss } from '../attacks/losses';
import { defenseFields } from '../src/experiments/model-record';
import { trainStep } from '../src/training/trainer';
import { Optimizer, defaultOptimizerConfig } from '../src/training/optimizers';

const base = (p: Partial<ModelConfig> = {}): ModelConfig => defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 2, ...p });

let tmp: string;
let x: tf.Tensor4D;
beforeAll(async () => {
  await initBackend('wasm', true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-defenses-'));
  x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
});
afterAll(() => {
  x.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('registry', () => {
  it('the built-ins are the files of defenses/builtin/, in their declared order', () => {
    const files = fs.readdirSync(path.join(__dirname, '..', 'defenses', 'builtin')).map((f) => f.replace(/\.ts$/, ''));
    expect([...builtinDefenseNames()].sort()).toEqual(files.sort());
    expect(builtinDefenseNames()).toEqual(['none', 'optical', 'dfa-only', 'dfa-binarize', 'dfa-projection']);
  });

  it('every built-in head ends in one output per class and Network builds it', () => {
    for (const d of builtinDefenses()) {
      const net = new Network(base({ defense: d.name, training: d.name === 'none' ? 'bp' : 'hybrid', numClasses: 7 }));
      const logits = tf.tidy(() => net.predictLogits(x).shape);
      expect(logits).toEqual([4, 7]);
      expect(net.headStages.filter((s) => s.op === 'opu').length).toBe(d.name === 'optical' || d.name === 'dfa-projection' ? 1 : 0);
      expect(net.headStages.filter((s) => s.op === 'sign').length).toBe(d.name === 'optical' || d.name === 'dfa-binarize' ? 1 : 0);
      net.dispose();
    }
  });

  it('a model record lists the declared gradient modes (bpda ones exactly where a Sign or an OPU is: check C10) and the oracle ones', () => {
    for (const d of builtinDefenses()) {
      const net = new Network(base({ defense: d.name, training: d.name === 'none' ? 'bp' : 'hybrid' }));
      const modes = defenseFields(net).gradientModes;
      expect(modes).toEqual(gradientModesOf(net).map((m) => m.name));
      const nonDifferentiable = net.headStages.some((s) => s.op === 'opu' || s.op === 'sign');
      expect(modes.some((m) => m.startsWith('bpda'))).toBe(nonDifferentiable);
      // the oracle modes use the true transmission matrix: only where there is an OPU
      expect(defenseFields(net).oracleGradientModes).toEqual(net.opu ? ['true', 'bpda-true'] : []);
      net.dispose();
    }
  });

  it('unknown names and stray parameters are one line', () => {
    expect(() => resolveDefense('optcal')).toThrow(/unknown defense 'optcal': expected one of none, optical, dfa-only, dfa-binarize, dfa-projection, or a defense plugin file/);
    expect(() => resolveDefense('optical', { bits: 3 })).toThrow(/defense 'optical' takes no parameters \(got bits\)/);
    expect(() => classifierFor(new Network(base({ defense: 'dfa-only', training: 'hybrid' })), 'bpda-true')).toThrow(/unknown gradient mode 'bpda-true' .*expected one of natural, true$/);
  });
});

describe('a plugin with its own head and its own gradient mode', () => {
  const file = (): string => {
    const f = path.join(tmp, 'own-head.js');
    fs.writeFileSync(
      f,
      `module.exports = {
        name: 'own-head',
        params: { hidden: 16 },
        transformInput(x, ctx) { return ctx.tf.tidy(() => ctx.tf.div(ctx.tf.round(ctx.tf.mul(x, 15)), 15)); },
        head: (ctx) => [
          { op: 'dense', name: 'dense1', units: ctx.params.hidden, relu: true },
          { op: 'feedback' },
          { op: 'sign', center: 'sample-mean' },
          { op: 'opu', outFeatures: 24, mode: 'reference', seedLabel: 'opu' },
          { op: 'relu', observe: 'head/opu' },
          { op: 'dense', name: 'out', units: ctx.numClasses, relu: false },
        ],
        gradientModes: { 'bpda-zero-input': { describe: 'zero gradient through the input transform', surrogate: (dy, x, ctx) => ctx.tf.zerosLike(dy) } },
      };\n`,
    );
    return f;
  };

  it('declares the BPDA modes of its stages plus its own, builds and trains its head, records itself', () => {
    const loaded = loadDefensePlugin(file(), { hidden: 12 });
    const cfg = applyDefensePlugin(base({ training: 'hybrid' }), loaded);
    expect(cfg.defense).toBe('own-head');
    expect(modelId(cfg)).toBe('vgg11-w0.125-own-head-hybrid');
    expect(gradientModesFor(file(), { training: 'hybrid' }).map((m) => m.name)).toEqual(['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-estimated', 'bpda-none', 'bpda-zero-input']);
    const net = new Network(cfg);
    expect(gradientModesOf(net).map((m) => m.name)).toContain('bpda-zero-input');
    expect(net.store.list().map((p) => p.name).filter((n) => n.startsWith('head/'))).toEqual(['head/dense1/kernel', 'head/dense1/bias', 'head/out/kernel', 'head/out/bias']);
    expect(net.opu?.outFeatures).toBe(24);
    expect(net.defense.record()).toMatchObject({ name: 'own-head', source: 'file', params: { hidden: 12 } });
    expect(net.defense.stochastic(defenseContext(cfg))).toBe(false);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const opt = new Optimizer(defaultOptimizerConfig('adam'));
    expect(Number.isFinite(trainStep(net, opt, x, y, 0).loss)).toBe(true);
    // its own mode: the input transform's backward is its zero surrogate, so nothing reaches the input
    const own = classifierFor(net, 'bpda-zero-input').lossAndGradient(x, y, crossEntropyLoss);
    expect(tf.tidy(() => tf.max(tf.abs(own.grad)).dataSync()[0])).toBe(0);
    // the straight-through modes do reach it
    const st = classifierFor(net, 'bpda-true').lossAndGradient(x, y, crossEntropyLoss);
    expect(tf.tidy(() => tf.max(tf.abs(st.grad)).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([own.loss, own.grad, st.loss, st.grad, y]);
    opt.dispose();
    net.dispose();
  });

  it('a broken head is one line naming the file and the stage', () => {
    const f = path.join(tmp, 'bad-head.js');
    fs.writeFileSync(f, "module.exports = { name: 'bad', head: () => [{ op: 'dense', name: 'a', units: 4, relu: true }, { op: 'conv' }] };\n");
    const cfg = applyDefensePlugin(base(), loadDefensePlugin(f));
    expect(() => new Network(cfg)).toThrow(/defense plugin '.*bad-head.js': head stage 1 \(\{"op":"conv"\}\): op must be one of dropout, dense, feedback, sign, opu, relu/);
    const g = path.join(tmp, 'throwing-head.js');
    fs.writeFileSync(g, "module.exports = { name: 'bad', head: () => { throw new Error('no head today'); } };\n");
    const cfg2 = applyDefensePlugin(base(), loadDefensePlugin(g));
    expect(() => new Network(cfg2)).toThrow(/defense plugin '.*throwing-head.js': head threw during model construction: no head today/);
  });
});
