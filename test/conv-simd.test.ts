/**
 * opulab's own stride-1 convolution kernels (native/conv-simd.c via src/backend/wasm/conv-simd.ts):
 * Winograd F(2x2,3x3) and the direct implicit GEMM, in both builds (relaxed-SIMD FMA and plain SIMD),
 * for the forward conv, FusedConv2D (bias, relu), the input gradient and the filter gradient, against the
 * tfjs cpu backend; plus block boundaries, the fallback cases, a hand-worked case and leak checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../src/backend/index';
import { convSimdBuild, convSimdFor } from '../src/backend/wasm/conv-simd';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { maxRelErr } from './helpers/numeric';
import { expectMemoryFlat } from './helpers/memory';
import { convPathCounts } from '../src/backend/testing';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  /** convolutions (of forward, fused relu, fused linear, dx, dW) expected on each simd path */
  paths?: { winograd: number; direct: number };
  x: [number, number, number, number];
  f: [number, number, number, number];
  pad: Pad;
}

// Which path each case takes on wasm is in its name: winograd needs 3x3, K % 4 == 0 and J % 8 == 0; direct
// needs J % 8 == 0; everything else (and stride != 1) stays on XNNPACK.
const CASES: Case[] = [
  { name: 'winograd same, even size', paths: { winograd: 5, direct: 0 }, x: [2, 8, 8, 16], f: [3, 3, 16, 16], pad: 'same' },
  { name: 'winograd same, odd size', x: [3, 7, 5, 8], f: [3, 3, 8, 24], pad: 'same' },
  { name: 'winograd valid, odd output', x: [2, 9, 6, 4], f: [3, 3, 4, 8], pad: 'valid' },
  { name: 'winograd explicit asymmetric pads', x: [1, 6, 7, 12], f: [3, 3, 12, 16], pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { name: 'winograd 1x1 spatial', x: [4, 1, 1, 8], f: [3, 3, 8, 8], pad: 'same' },
  { name: 'direct, K = 3 (first layer)', paths: { winograd: 0, direct: 4 }, x: [2, 6, 6, 3], f: [3, 3, 3, 16], pad: 'same' },
  { name: 'direct, 1x1 kernel', x: [2, 5, 4, 6], f: [1, 1, 6, 8], pad: 'valid' },
  // (explicit pads: tfjs sizes a numeric pad with a non-square filter from the filter height only)
  { name: 'direct, 5x3 kernel, explicit pads', x: [1, 7, 6, 5], f: [5, 3, 5, 8], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { name: 'direct, numeric pad', x: [2, 6, 5, 6], f: [3, 3, 6, 8], pad: 1 },
  { name: 'fallback, J = 6 (only dx, K = 6, is direct)', paths: { winograd: 0, direct: 1 }, x: [2, 6, 6, 8], f: [3, 3, 8, 6], pad: 'same' },
];

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

/** forward, fused (bias + relu), fused linear, dx, dw of one case, on the current backend. */
function convOutputs(c: Case): tf.Tensor[] {
  const x = seeded(c.x, 1) as tf.Tensor4D;
  const f = seeded(c.f, 2) as tf.Tensor4D;
  const bias = seeded([c.f[3]], 3) as tf.Tensor1D;
  const y = tf.conv2d(x, f, 1, c.pad);
  const dy = seeded(y.shape, 4) as tf.Tensor4D;
  const fused = tf.fused.conv2d({ x, filter: f, strides: 1, pad: c.pad, bias, activation: 'relu' });
  const linear = tf.fused.conv2d({ x, filter: f, strides: 1, pad: c.pad, bias, activation: 'linear' });
  const dx = tf.conv2dTranspose(dy, f, c.x, 1, c.pad);
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', filterShape: c.f }) as tf.Tensor;
  return [y, fused, linear, dx, dw];
}

async function valuesOn(backend: string, fn: () => tf.Tensor[]): Promise<{ shape: number[]; data: Float32Array }[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const res = out.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  tf.dispose(out);
  return res;
}

const env = process.env;
const savedChoice = env.OPULAB_CONV_KERNELS;
const savedBlock = env.OPULAB_WINO_BLOCK_KB;

beforeAll(async () => {
  await initBackend('wasm', true);
});

afterEach(async () => {
  if (savedChoice === undefined) delete env.OPULAB_CONV_KERNELS;
  else env.OPULAB_CONV_KERNELS = savedChoice;
  if (savedBlock === undefined) delete env.OPULAB_WINO_BLOCK_KB;
  else env.OPULAB_WINO_BLOCK_KB = savedBlock;
  delete env.OPULAB_WINOGRAD_TILE;
  await tf.setBackend('wasm');
});

describe('build selection', () => {
  it('resolves the environment choice', () => {
    env.OPULAB_CONV_KERNELS = 'plain';
    expect(convSimdBuild()).toBe('plain');
    env.OPULAB_CONV_KERNELS = 'xnnpack';
    expect(convSimdBuild()).toBeNull();
    env.OPULAB_CONV_KERNELS = 'auto';
    // Node >= 20 accepts relaxed SIMD (behind a V8 flag the loader sets); auto falls back to XNNPACK otherwise
    expect(['fma', null]).toContain(convSimdBuild());
    env.OPULAB_CONV_KERNELS = 'winograd-please';
    expect(() => convSimdBuild()).toThrow(/OPULAB_CONV_KERNELS='winograd-please': expected auto, fma, plain or xnnpack/);
  });

  it('binds the kernels to the backend memory once', () => {
    env.OPULAB_CONV_KERNELS = 'plain';
    const backend = tf.backend() as BackendWasm;
    const a = convSimdFor(backend);
    expect(a).not.toBeNull();
    expect(convSimdFor(backend)).toBe(a);
  });
});

interface KernelSetup {
  build: string;
  /** OPULAB_WINOGRAD_TILE (undefined: the automatic choice) */
  tile?: string;
}

function fmaAvailable(): boolean {
  env.OPULAB_CONV_KERNELS = 'auto';
  const ok = convSimdBuild() === 'fma';
  if (savedChoice === undefined) delete env.OPULAB_CONV_KERNELS;
  else env.OPULAB_CONV_KERNELS = savedChoice;
  return ok;
}

const SETUPS: KernelSetup[] = [
  ...(fmaAvailable() ? [{ build: 'fma' }] : []),
  { build: 'plain', tile: '2' },
  { build: 'plain', tile: '4' },
  { build: 'xnnpack' },
];

describe.each(SETUPS.map((k) => [`${k.build}${k.tile ? `, Winograd F(${k.tile}x${k.tile},3x3)` : ''}`, k] as const))(
  '%s kernels match the cpu backend (forward, fused relu, fused linear, dx, dW)',
  (_label, setup) => {
    afterEach(() => {
      delete env.OPULAB_WINOGRAD_TILE;
    });
    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      env.OPULAB_CONV_KERNELS = setup.build;
      if (setup.tile) env.OPULAB_WINOGRAD_TILE = setup.tile;
      const cpu = await valuesOn('cpu', () => convOutputs(c));
      const before = { ...convPathCounts };
      const wasm = await valuesOn('wasm', () => convOutputs(c));
      if (c.paths) {
        const ran = { winograd: convPathCounts.winograd - before.winograd, direct: convPathCounts.direct - before.direct };
        expect(ran).toEqual(setup.build === 'xnnpack' ? { winograd: 0, direct: 0 } : c.paths);
      }
      wasm.forEach((w, i) => {
        expect(w.shape).toEqual(cpu[i].shape);
        expect(maxRelErr(cpu[i].data, w.data)).toBeLessThanOrEqual(1e-4);
      });
    });
  },
);

describe('Winograd blocking', () => {
  it.each(['2', '4'])('output tile %s gives the same result with one block and with many partial blocks', async (tile) => {
    env.OPULAB_CONV_KERNELS = 'plain';
    env.OPULAB_WINOGRAD_TILE = tile;
    // a 1 KB budget gives blocks of 6 tiles; 2 x 9 x 9 outputs are 50 tiles of 2x2 (8 blocks + 2) or 18 of 4x4, 1 x 9 x 9 is 9 of 4x4 (6 + 3)
    for (const c of [CASES[1], { name: 'partial blocks', x: [2, 9, 9, 8], f: [3, 3, 8, 8], pad: 'same' } as Case, { name: '9 tiles of 4x4', x: [1, 9, 9, 8], f: [3, 3, 8, 8], pad: 'same' } as Case]) {
      env.OPULAB_WINO_BLOCK_KB = '100000';
      const one = await valuesOn('wasm', () => convOutputs(c));
      env.OPULAB_WINO_BLOCK_KB = '1';
      const many = await valuesOn('wasm', () => convOutputs(c));
      const cpu = await valuesOn('cpu', () => convOutputs(c));
      many.forEach((m, i) => {
        expect(maxRelErr(one[i].data, m.data)).toBeLessThanOrEqual(1e-5);
        expect(maxRelErr(cpu[i].data, m.data)).toBeLessThanOrEqual(1e-4);
      });
    }
  });
});

describe('hand-worked case', () => {
  it('a 3x3 box filter on a ramp sums each 3x3 neighbourhood (zero padding at the border)', async () => {
    env.OPULAB_CONV_KERNELS = 'plain';
    // x[h, w, c] = h*4 + w (every channel), filter all ones on c = 0 -> j, zero elsewhere; 4 channels in, 8 out
    const xs = new Float32Array(4 * 4 * 4);
    for (let h = 0; h < 4; h++) for (let w = 0; w < 4; w++) for (let c = 0; c < 4; c++) xs[(h * 4 + w) * 4 + c] = h * 4 + w;
    const fs = new Float32Array(3 * 3 * 4 * 8);
    for (let t = 0; t < 9; t++) for (let j = 0; j < 8; j++) fs[(t * 4 + 0) * 8 + j] = 1;
    const y = tf.tidy(() => tf.conv2d(tf.tensor4d(xs, [1, 4, 4, 4]), tf.tensor4d(fs, [3, 3, 4, 8]), 1, 'same'));
    const v = y.dataSync();
    y.dispose();
    const expected = (h: number, w: number) => {
      let s = 0;
      for (let a = h - 1; a <= h + 1; a++) for (let b = w - 1; b <= w + 1; b++) if (a >= 0 && a < 4 && b >= 0 && b < 4) s += a * 4 + b;
      return s;
    };
    expect(v[(0 * 4 + 0) * 8]).toBeCloseTo(0 + 1 + 4 + 5, 4); // corner: 4 neighbours
    for (let h = 0; h < 4; h++) for (let w = 0; w < 4; w++) for (let j = 0; j < 8; j++) expect(v[(h * 4 + w) * 8 + j]).toBeCloseTo(expected(h, w), 4);
  });
});

describe('memory', () => {
  it('leaves no tensors or wasm buffers behind across repeated forward and gradient calls', async () => {
    env.OPULAB_CONV_KERNELS = 'plain';
    expectMemoryFlat(() => tf.dispose(tf.tidy(() => convOutputs(CASES[0]))), 3);
  });
});
