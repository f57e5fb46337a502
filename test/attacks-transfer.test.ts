import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { UserError } from '../src/util/errors';
import { makeRng } from '../src/util/rng';
import {
  commonCorrectMask,
  craftTransferSet,
  createTransferAttack,
  evaluateTransfer,
  loadTransferSet,
  saveTransferSet,
  type TransferSet,
} from '../attacks/transfer';
import { applyMaps, applyMapsTransposed, drawDiversityMap } from '../attacks/transfer/input-diversity';
import { LookupClassifier, predictedLabels, randomImages, ToyLinear } from './helpers/blackbox-toys';
import { NoisyLinearClassifier } from './helpers/toy-classifiers';
import { predictFlat } from '../attacks/transfer/evaluate';
import { defaultEvalPasses } from '../attacks/eot';

const SHAPE: [number, number, number] = [8, 8, 3];
let tmp: string;

beforeAll(async () => {
  await initBackend('cpu', true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-transfer-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('transfer set files', () => {
  test('save / load round trip is bit-exact', () => {
    const rng = makeRng(3, 'bits');
    const per = 3 * 2 * 2 * 1;
    const blocks = [0, 1].map(() => Float32Array.from({ length: per }, () => rng.normal()));
    blocks[0][0] = -0; // sign of zero and subnormals survive
    blocks[0][1] = 1e-40;
    const set: TransferSet = {
      manifest: {
        format: 'opulab.transfer-set/1',
        source: 'src',
        attack: 'pgd',
        threat: 'white-box',
        norm: 'linf',
        params: { steps: 3 },
        eps: [0.01, 0.02],
        epsSpace: 'pixel',
        indices: [5, 9, 11],
        labels: [1, 0, 2],
        shape: [3, 2, 2, 1],
        dtype: 'float32',
        byteOrder: 'little-endian',
        file: 'adversarial.bin',
        byteLength: 2 * per * 4,
        sourceSuccess: [
          [true, false, true],
          [true, true, true],
        ],
        seed: 1,
      },
      adversarial: blocks,
    };
    const dir = path.join(tmp, 'roundtrip');
    saveTransferSet(dir, set);
    const back = loadTransferSet(dir);
    expect(back.manifest).toEqual(set.manifest);
    for (let e = 0; e < 2; e++) {
      expect(Buffer.from(back.adversarial[e].buffer).equals(Buffer.from(blocks[e].buffer))).toBe(true);
    }
    expect(Object.is(back.adversarial[0][0], -0)).toBe(true);
    // The binary is little-endian float32: the first value of block 1 at byte offset per*4.
    const raw = fs.readFileSync(path.join(dir, 'adversarial.bin'));
    expect(raw.readFloatLE(per * 4)).toBe(blocks[1][0]);
    // Corruption is a clear error.
    fs.writeFileSync(path.join(dir, 'adversarial.bin'), raw.subarray(0, 8));
    expect(() => loadTransferSet(dir)).toThrow(/expected 96/);
    expect(() => loadTransferSet(path.join(tmp, 'missing'))).toThrow(UserError);
  });
});

describe('common-correct mask and transfer evaluation (hand-made)', () => {
  test('mask and per-target numbers', async () => {
    // 4 images; image i has first pixel i/100 (clean key i), adversarial key 10 + i.
    const shape: [number, number, number, number] = [4, 1, 1, 1];
    const clean = tf.tensor4d([0, 0.01, 0.02, 0.03], shape);
    const adv = Float32Array.from([0.1, 0.11, 0.12, 0.13]);
    const labels = [0, 1, 0, 1];
    // Source: correct on 0,1,2 (wrong on 3); fooled on adversarial 0 and 1.
    const source = new LookupClassifier('src', [1, 1, 1], 2, new Map([[0, 0], [1, 1], [2, 0], [3, 0], [10, 1], [11, 0], [12, 0], [13, 1]]));
    // Target A: correct on all clean; adversarial fools image 0 only.
    const a = new LookupClassifier('A', [1, 1, 1], 2, new Map([[0, 0], [1, 1], [2, 0], [3, 1], [10, 1], [11, 1], [12, 0], [13, 1]]));
    // Target B: wrong on clean image 2; adversarial fools images 1 and 3.
    const b = new LookupClassifier('B', [1, 1, 1], 2, new Map([[0, 0], [1, 1], [2, 1], [3, 1], [10, 0], [11, 0], [12, 0], [13, 0]]));
    expect(commonCorrectMask(labels, [[0, 1, 0, 0], [0, 1, 0, 1], [0, 1, 1, 1]])).toEqual([true, true, false, false]);
    const set: TransferSet = {
      manifest: {
        format: 'opulab.transfer-set/1',
        source: 'src',
        attack: 'fgsm',
        threat: 'white-box',
        norm: 'linf',
        params: {},
        eps: [0.1],
        epsSpace: 'pixel',
        indices: [0, 1, 2, 3],
        labels,
        shape,
        dtype: 'float32',
        byteOrder: 'little-endian',
        file: 'adversarial.bin',
        byteLength: 16,
        sourceSuccess: [[true, true, false, false]],
        seed: 0,
      },
      adversarial: [adv],
    };
    const ev = await evaluateTransfer(set, clean, source, [a, b]);
    expect(ev.commonCorrect).toEqual([true, true, false, false]);
    const [ra, rb] = ev.runs;
    expect(ra).toMatchObject({ model: 'A', source: 'src', threat: 'transfer', n: 4, cleanAccuracy: 1, robustAccuracy: 0.75 });
    expect(ra.commonCorrect).toEqual({ n: 2, robustAccuracy: 0.5 });
    expect(ra.successRate).toBeCloseTo(0.25);
    // B: clean-correct on 0,1,3; adversarial correct on 0 only -> robust 1/4; common subset {0,1}: 1/2.
    expect(rb).toMatchObject({ model: 'B', cleanAccuracy: 0.75, robustAccuracy: 0.25 });
    expect(rb.commonCorrect).toEqual({ n: 2, robustAccuracy: 0.5 });
    expect(rb.successRate).toBeCloseTo(2 / 3);
    await expect(evaluateTransfer(set, clean, a, [b])).rejects.toThrow(UserError);
    clean.dispose();
  });
});

describe('input diversity', () => {
  test('the transpose is the adjoint: <T x, g> = <x, T^T g>, and identity at p = 0', () => {
    const rng = makeRng(1, 'di');
    const h = 8;
    const c = 3;
    const maps = [0, 1, 2, 3].map(() => drawDiversityMap(rng, h, h, 0.7, 1));
    expect(maps.every((m) => m !== null)).toBe(true);
    const x = Float32Array.from({ length: 4 * h * h * c }, () => rng.normal());
    const g = Float32Array.from({ length: 4 * h * h * c }, () => rng.normal());
    const tx = applyMaps(x, maps, h * h, c);
    const tg = applyMapsTransposed(g, maps, h * h, c);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < x.length; i++) {
      lhs += tx[i] * g[i];
      rhs += x[i] * tg[i];
    }
    expect(lhs).toBeCloseTo(rhs, 3);
    expect(drawDiversityMap(rng, h, h, 0.7, 0)).toBeNull();
  });
});

describe('MI-FGSM / DI-FGSM crafting and transfer', () => {
  test('in the eps-ball, strong at large eps, seeded, flat tensor count, transfer to a copy equals source', async () => {
    const source = new ToyLinear(SHAPE, 5, 50, 'source');
    const copy = new ToyLinear(SHAPE, 5, 50, 'copy');
    const other = new ToyLinear(SHAPE, 5, 51, 'other');
    const x = randomImages(6, SHAPE, 60);
    const labels = predictedLabels(source, x);
    const x0 = x.dataSync();
    for (const name of ['mi-fgsm', 'di-fgsm']) {
      const attack = createTransferAttack(name, { steps: 5 });
      const set = await craftTransferSet(source, attack, x, labels, [0.01, 0.2], { seed: 4 }, { indices: [10, 11, 12, 13, 14, 15] });
      for (let e = 0; e < 2; e++) {
        const eps = set.manifest.eps[e];
        set.adversarial[e].forEach((v, j) => {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          expect(Math.abs(v - x0[j])).toBeLessThanOrEqual(eps + 1e-6);
        });
      }
      expect(set.manifest.sourceSuccess[1].filter(Boolean).length).toBeGreaterThanOrEqual(5);
      // Seeded: identical numbers again; memory flat.
      const before = tf.memory().numTensors;
      const again = await craftTransferSet(source, attack, x, labels, [0.01, 0.2], { seed: 4 }, { indices: [10, 11, 12, 13, 14, 15] });
      expect(tf.memory().numTensors).toBe(before);
      expect(again.adversarial).toEqual(set.adversarial);
      const dir = path.join(tmp, name);
      saveTransferSet(dir, set);
      const loaded = loadTransferSet(dir);
      const ev = await evaluateTransfer(loaded, x, source, [copy, other]);
      const copyRun = ev.runs.find((r) => r.model === 'copy' && r.eps === set.manifest.eps[1]);
      const srcRobust = 1 - set.manifest.sourceSuccess[1].filter(Boolean).length / 6;
      expect(copyRun?.robustAccuracy).toBeCloseTo(srcRobust);
      expect(copyRun?.params).toMatchObject({ steps: 5 });
      expect(ev.runs).toHaveLength(4);
    }
    const di1 = await createTransferAttack('di-fgsm', { steps: 3, probability: 1, resizeRate: 0.5 }).run(source, x, labels, [0.05], { seed: 1 });
    const di2 = await createTransferAttack('di-fgsm', { steps: 3, probability: 1, resizeRate: 0.5 }).run(source, x, labels, [0.05], { seed: 2 });
    expect(Array.from(di1[0].adversarial.dataSync())).not.toEqual(Array.from(di2[0].adversarial.dataSync()));
    di1[0].adversarial.dispose();
    di2[0].adversarial.dispose();
    expect(() => createTransferAttack('di-fgsm', { probability: 2 })).toThrow(UserError);
    expect(() => createTransferAttack('nope')).toThrow(UserError);
    x.dispose();
    source.dispose();
    copy.dispose();
    other.dispose();
  });
});

describe('transfer scoring on a stochastic target', () => {
  test('clean and adversarial predictions are the vote of 10 noisy passes, as every other attack scores them', async () => {
    // logits = [x + n, 0.5], n ~ N(0, 0.1^2) per pass: x = 0.58 is class 0 on about 79% of passes, on nearly all votes
    const noisy = new NoisyLinearClassifier({ inputShape: [1, 1, 1], numClasses: 2, weights: [1, 0], bias: [0, 0.5], noiseStd: 0.1, noiseSeed: 3 });
    const pixels = new Float32Array(40).fill(0.58);
    const one = await predictFlat(noisy, pixels, [40, 1, 1, 1], 16, 1);
    const voted = await predictFlat(noisy, pixels, [40, 1, 1, 1], 16);
    expect(defaultEvalPasses(noisy)).toBe(10);
    expect(one.filter((p) => p === 1).length).toBeGreaterThan(2); // single passes flip some
    expect(voted.filter((p) => p === 1).length).toBe(0);
    // a deterministic model is read once per image
    const plain = new ToyLinear(SHAPE, 5, 50, 'plain');
    expect(defaultEvalPasses(plain)).toBe(1);
    plain.dispose();
    noisy.dispose();
  });
});
