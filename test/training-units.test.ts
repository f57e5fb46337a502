import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Optimizer, defaultOptimizerConfig } from '../src/training/optimizers';
import { LrSchedule, defaultScheduleConfig } from '../src/training/schedules';
import { saveCheckpoint, readCheckpointMeta, readCheckpointTensors } from '../src/training/checkpoint';
import { defaultModelConfig } from '../src/models/config';
import { UserError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('cpu', true);
});

function step(opt: Optimizer, w: tf.Variable, g: number[]): number[] {
  const grads = new Map<string, tf.Tensor>([['w', tf.tensor1d(g)]]);
  opt.apply(new Map([['w', w]]), grads);
  grads.get('w')!.dispose();
  return Array.from(w.dataSync());
}

describe('optimizers (PyTorch update rules, worked by hand)', () => {
  it('SGD momentum and Nesterov', () => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    const opt = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.1, momentum: 0.9 }));
    // step 1: buf = g = [0.5, 1]; w = [1 - .05, -2 - .1]
    expect(step(opt, w, [0.5, 1])).toEqual([expect.closeTo(0.95, 6), expect.closeTo(-2.1, 6)]);
    // step 2: buf = .9*[.5,1] + [1,1] = [1.45, 1.9]; w -= .1*buf
    expect(step(opt, w, [1, 1])).toEqual([expect.closeTo(0.805, 6), expect.closeTo(-2.29, 6)]);
    opt.dispose();
    const n = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.1, momentum: 0.9, nesterov: true }));
    const v = tf.variable(tf.tensor1d([0]));
    // step 1: buf = 1; update = g + .9*buf = 1.9
    expect(step(n, v, [1])[0]).toBeCloseTo(-0.19, 6);
    n.dispose();
    tf.dispose([w, v]);
  });

  it('Adam first step is lr * sign(g); weight decay adds wd*w; AdamW decays decoupled', () => {
    const w = tf.variable(tf.tensor1d([1, 1]));
    const adam = new Optimizer(defaultOptimizerConfig('adam', { lr: 0.01 }));
    const r = step(adam, w, [3, -0.5]);
    expect(r[0]).toBeCloseTo(1 - 0.01, 5);
    expect(r[1]).toBeCloseTo(1 + 0.01, 5);
    adam.dispose();
    const u = tf.variable(tf.tensor1d([2]));
    const adamw = new Optimizer(defaultOptimizerConfig('adamw', { lr: 0.1, weightDecay: 0.5 }));
    // decoupled: w = 2*(1 - .1*.5) = 1.9, then Adam step -0.1*sign(g)
    expect(step(adamw, u, [1])[0]).toBeCloseTo(1.8, 5);
    adamw.dispose();
    const s = tf.variable(tf.tensor1d([2]));
    const sgd = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.1, momentum: 0, weightDecay: 0.5 }));
    // g' = 1 + .5*2 = 2; w = 2 - .2
    expect(step(sgd, s, [1])[0]).toBeCloseTo(1.8, 6);
    sgd.dispose();
    tf.dispose([w, u, s]);
  });

  it('RMSprop: square_avg = alpha*sq + (1-alpha) g^2; w -= lr g / (sqrt(sq) + eps)', () => {
    const w = tf.variable(tf.tensor1d([0]));
    const opt = new Optimizer(defaultOptimizerConfig('rmsprop', { lr: 0.01, momentum: 0 }));
    const expected = -0.01 * (2 / (Math.sqrt(0.01 * 4) + 1e-8));
    expect(step(opt, w, [2])[0]).toBeCloseTo(expected, 5);
    opt.dispose();
    w.dispose();
  });

  it('rejects unknown optimizers and bad learning rates', () => {
    expect(() => defaultOptimizerConfig('lamb' as never)).toThrow(UserError);
    expect(() => defaultOptimizerConfig('adam', { lr: -1 })).toThrow(/learning rate -1/);
  });
});

describe('schedules', () => {
  it('ReduceLROnPlateau halves after `patience` epochs without improvement', () => {
    const s = new LrSchedule(defaultScheduleConfig('plateau', { patience: 2, factor: 0.5 }), 1);
    let lr = 1;
    const lrs = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95].map((m, i) => (lr = s.afterEpoch(i + 1, lr, m)));
    expect(lrs).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.5]);
  });
  it('multistep and cosine', () => {
    const m = new LrSchedule(defaultScheduleConfig('multistep', { milestones: [2, 4], factor: 0.1 }), 1);
    let lr = 1;
    expect([1, 2, 3, 4].map((e) => (lr = m.afterEpoch(e, lr, 0)))).toEqual([1, expect.closeTo(0.1, 9), expect.closeTo(0.1, 9), expect.closeTo(0.01, 9)]);
    const c = new LrSchedule(defaultScheduleConfig('cosine', { epochs: 4 }), 1);
    expect(c.afterEpoch(2, 1, 0)).toBeCloseTo(0.5, 9);
    expect(c.afterEpoch(4, 1, 0)).toBeCloseTo(0, 9);
  });
});

describe('checkpoints', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-ckpt-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round trip is bit-exact and old weight files are replaced', () => {
    const a = tf.tensor([1.5, -0, 3e-39, NaN, 1 / 3], [5]);
    const b = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 7);
    const cfg = defaultModelConfig({ seed: 3 });
    saveCheckpoint(dir, cfg, [{ name: 'a', tensor: a }, { name: 'x/b', tensor: b }], { epochsDone: 1 }, { acc: 0.5 });
    saveCheckpoint(dir, cfg, [{ name: 'a', tensor: a }, { name: 'x/b', tensor: b }], { epochsDone: 2 }, { acc: 0.5 });
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('weights-'))).toHaveLength(1);
    const meta = readCheckpointMeta(dir);
    expect(meta.config).toEqual(cfg);
    expect(meta.train.epochsDone).toBe(2);
    const t = readCheckpointTensors(dir, meta);
    const bytes = (x: tf.Tensor): string => Buffer.from((x.dataSync() as Float32Array).buffer).toString('hex');
    expect(bytes(t.get('a')!)).toBe(bytes(a));
    expect(bytes(t.get('x/b')!)).toBe(bytes(b));
    expect(t.get('x/b')!.shape).toEqual([2, 3, 4]);
    tf.dispose([a, b, ...t.values()]);
  });

  it('corrupt and missing checkpoints give one-line errors naming the file', () => {
    expect(() => readCheckpointMeta(path.join(dir, 'nope'))).toThrow(/no model.json/);
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-bad-'));
    fs.writeFileSync(path.join(bad, 'model.json'), '{not json');
    expect(() => readCheckpointMeta(bad)).toThrow(/not valid JSON/);
    const meta = readCheckpointMeta(dir);
    fs.writeFileSync(path.join(bad, 'model.json'), JSON.stringify(meta));
    fs.writeFileSync(path.join(bad, meta.weightsFile), Buffer.alloc(8));
    expect(() => readCheckpointTensors(bad, meta)).toThrow(/truncated/);
    fs.rmSync(bad, { recursive: true, force: true });
  });
});
