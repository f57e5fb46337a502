/**
 * Small ONNX models built in the tests (with the engine's onnx-proto graph builder): the shapes of layers a
 * user's exported CNN has, a few KB each, written to a temporary directory.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { GraphBuilder, Dim } from '../../src/engine/onnx-graph';
import { makeRng } from '../../src/util/rng';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function weights(seed: number, name: string, dims: number[], scale: number): { data: Float32Array; dims: number[] } {
  const rng = makeRng(seed, name);
  const n = dims.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, () => rng.range(-scale, scale)), dims };
}

function w(g: GraphBuilder, seed: number, name: string, dims: number[], scale: number): string {
  const { data } = weights(seed, name, dims, scale);
  return g.float(name, data, dims);
}

export interface ModelOptions {
  /** Batch dimension: a fixed size or symbolic (default 'N'). */
  batch?: Dim;
  seed?: number;
}

/**
 * A residual block and global average pooling, NCHW input [N,3,8,8]: Conv+ReLU, Conv+BatchNorm, Add (the skip),
 * ReLU, GlobalAveragePool, Flatten, Gemm -> 5 classes; `softmax` appends a Softmax (a probabilities output).
 */
export function residualModel(opts: ModelOptions & { softmax?: boolean } = {}): Uint8Array {
  const g = new GraphBuilder();
  const s = opts.seed ?? 1;
  const x = g.input('image', [opts.batch ?? 'N', 3, 8, 8]);
  const c1 = g.op('Conv', [x, w(g, s, 'c1_w', [4, 3, 3, 3], 0.5), w(g, s, 'c1_b', [4], 0.1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'c1');
  const r1 = g.op('Relu', [c1], {}, 'r1');
  const c2 = g.op('Conv', [r1, w(g, s, 'c2_w', [4, 4, 3, 3], 0.4)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'c2');
  const bn = g.op('BatchNormalization', [c2, g.float('bn_s', Float32Array.from([1.2, 0.8, 1, 0.9]), [4]), g.float('bn_b', Float32Array.from([0.1, -0.1, 0, 0.05]), [4]), g.float('bn_m', Float32Array.from([0.05, 0, -0.05, 0.1]), [4]), g.float('bn_v', Float32Array.from([0.5, 1, 1.5, 0.8]), [4])], { epsilon: 1e-5 }, 'bn');
  const sum = g.op('Add', [bn, r1], {}, 'skip');
  const r2 = g.op('Relu', [sum], {}, 'r2');
  const gap = g.op('GlobalAveragePool', [r2], {}, 'gap');
  const flat = g.op('Flatten', [gap], { axis: 1 }, 'flat');
  let out = g.op('Gemm', [flat, w(g, s, 'fc_w', [5, 4], 1), w(g, s, 'fc_b', [5], 0.1)], { transB: 1 }, 'fc');
  if (opts.softmax) out = g.op('Softmax', [out], { axis: 1 }, 'probs');
  g.output(out, 'scores', [opts.batch ?? 'N', 5]);
  return g.serialize('residual');
}

/**
 * NHWC input [N,8,8,3] with the normalization inside (Transpose to NCHW, Sub mean, Div std), a stride-2 Conv
 * with asymmetric pads, LeakyReLU, MaxPool, an AveragePool with padding, the PyTorch-style flatten
 * (Shape, Gather, Unsqueeze, Concat, Reshape), Tanh, MatMul + Add -> 4 classes.
 */
export function normalizedNhwcModel(opts: ModelOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const s = opts.seed ?? 2;
  const x = g.input('input_1', [opts.batch ?? 'N', 8, 8, 3]);
  const nchw = g.op('Transpose', [x], { perm: [0, 3, 1, 2] }, 'to_nchw');
  const norm = g.op('Div', [g.op('Sub', [nchw, g.float('mean', Float32Array.from([0.49, 0.48, 0.45]), [1, 3, 1, 1])]), g.float('std', Float32Array.from([0.25, 0.24, 0.26]), [1, 3, 1, 1])], {}, 'norm');
  const c = g.op('Conv', [norm, w(g, s, 'c_w', [6, 3, 3, 3], 0.3), w(g, s, 'c_b', [6], 0.1)], { kernel_shape: [3, 3], pads: [0, 0, 1, 1], strides: [2, 2] }, 'conv');
  const a = g.op('LeakyRelu', [c], { alpha: 0.1 }, 'lrelu');
  const mp = g.op('MaxPool', [a], { kernel_shape: [2, 2], strides: [2, 2] }, 'pool');
  const ap = g.op('AveragePool', [mp], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, 'avg');
  const shape = g.op('Shape', [ap], {}, 'shape');
  const n = g.op('Gather', [shape, g.int64('zero', [0])], { axis: 0 }, 'n');
  const target = g.op('Concat', [n, g.int64('minus_one', [-1])], { axis: 0 }, 'target');
  const flat = g.op('Reshape', [ap, target], {}, 'flat');
  const t = g.op('Tanh', [flat], {}, 'tanh');
  const out = g.op('Add', [g.op('MatMul', [t, w(g, s, 'fc_w', [24, 4], 0.8)]), w(g, s, 'fc_b', [4], 0.1)], {}, 'fc');
  g.output(out, 'logits', [opts.batch ?? 'N', 4]);
  return g.serialize('normalized-nhwc');
}

/**
 * A non-differentiable step inside: NCHW [N,3,8,8] -> Conv -> Tanh (or Sigmoid) -> `step` (Sign, or QuantizeLinear +
 * DequantizeLinear at 1/16 steps (uint8, zero point 0), or a Greater-than-zero mask cast to float times the input) -> Flatten ->
 * Gemm -> 3 classes. `step: 'identity'` is the same model with the step replaced by the identity (its BPDA twin).
 */
export function stepModel(step: 'sign' | 'quantize' | 'greater' | 'identity', opts: ModelOptions & { squash?: 'Tanh' | 'Sigmoid' } = {}): Uint8Array {
  const g = new GraphBuilder();
  const s = opts.seed ?? 3;
  const x = g.input('x', [opts.batch ?? 'N', 3, 8, 8]);
  const c = g.op('Conv', [x, w(g, s, 'c_w', [2, 3, 3, 3], 0.5), w(g, s, 'c_b', [2], 0.1)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 'conv');
  const t = g.op(opts.squash ?? 'Tanh', [c], {}, 'squash');
  let y: string;
  if (step === 'sign') y = g.op('Sign', [t], {}, 'binarize');
  else if (step === 'quantize') {
    const scale = g.float('q_scale', Float32Array.from([1 / 16]), []);
    const q = g.op('QuantizeLinear', [t, scale], {}, 'quant');
    y = g.op('DequantizeLinear', [q, scale], {}, 'dequant');
  } else if (step === 'greater') {
    const mask = g.op('Cast', [g.op('Greater', [t, g.scalar(0)], {}, 'positive')], { to: 1 }, 'mask');
    y = g.op('Mul', [mask, t], {}, 'gated');
  } else y = g.op('Identity', [t], {}, 'same');
  const flat = g.op('Flatten', [y], {}, 'flat');
  const out = g.op('Gemm', [flat, w(g, s, 'fc_w', [3, 32], 0.5), w(g, s, 'fc_b', [3], 0.1)], { transB: 1 }, 'fc');
  g.output(out, 'logits', [opts.batch ?? 'N', 3]);
  return g.serialize('step');
}

/** A model with an operator outside the supported set (LRN, node 'n_lrn'). */
export function unsupportedModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', ['N', 3, 8, 8]);
  const c = g.op('Conv', [x, w(g, 4, 'c_w', [2, 3, 3, 3], 0.5)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv');
  const l = g.op('LRN', [c], { size: 3 }, 'lrn');
  const flat = g.op('Flatten', [l], {}, 'flat');
  const out = g.op('Gemm', [flat, w(g, 4, 'fc_w', [3, 128], 0.5)], { transB: 1 }, 'fc');
  g.output(out, 'logits', ['N', 3]);
  return g.serialize('unsupported');
}

export function writeModel(dir: string, name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Operator families of the backward-graph tests: each a small NCHW model [N,3,8,8] -> 5 classes. */
export type OpFamily = 'conv' | 'pool' | 'activation' | 'broadcast' | 'shape';
export const OP_FAMILIES: readonly OpFamily[] = ['conv', 'pool', 'activation', 'broadcast', 'shape'];

/**
 * conv: Conv (stride 1, pad 1) + BatchNorm + Relu, a stride-2 Conv with asymmetric pads, a depthwise Conv, a
 * ConvTranspose (stride 2); pool: MaxPool 2x2/2 (windows apart) and 3x3/2 pad 1 (overlapping), AveragePool
 * 3x3/1 pad 1 (padding excluded) and 2x2/2 (count_include_pad), GlobalMaxPool beside GlobalAveragePool;
 * activation: LeakyRelu, Elu, Sigmoid, Tanh, Softplus, HardSigmoid, Clip, Softmax over channels-last;
 * broadcast: Add/Sub/Mul/Div against [1,C,1,1] constants and against an [N,1,H,W] map computed from the input
 * (ReduceMean), a divisor computed from the input, Pow, Max/Min, MatMul then Gemm; shape: Concat of two
 * branches, Gather of channels, reflect and constant Pad, Slice (and strided), Transpose, Squeeze/Unsqueeze, Reshape, Identity, Dropout, Flatten.
 */
export function opFamilyModel(family: OpFamily, opts: ModelOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const s = opts.seed ?? 11;
  const N = opts.batch ?? 'N';
  const x = g.input('x', [N, 3, 8, 8]);
  const conv = (inp: string, ci: number, co: number, k: number, attrs: Record<string, number[] | number>, name: string): string =>
    g.op('Conv', [inp, w(g, s, `${name}_w`, [co, ci / Number(attrs.group ?? 1), k, k], 0.6), w(g, s, `${name}_b`, [co], 0.1)], { kernel_shape: [k, k], ...attrs }, name);
  const i64 = (name: string, v: number[]): string => g.int64(name, v);
  let h: string;
  let features: number;
  switch (family) {
    case 'conv': {
      const c1 = conv(x, 3, 4, 3, { pads: [1, 1, 1, 1] }, 'c1');
      const bn = g.op('BatchNormalization', [c1, g.float('bn_s', Float32Array.from([1.2, 0.8, 1, 0.9]), [4]), g.float('bn_b', Float32Array.from([0.1, -0.1, 0, 0.05]), [4]), g.float('bn_m', Float32Array.from([0.05, 0, -0.05, 0.1]), [4]), g.float('bn_v', Float32Array.from([0.5, 1, 1.5, 0.8]), [4])], { epsilon: 1e-5 }, 'bn');
      const r = g.op('Relu', [bn], {}, 'r1');
      const c2 = conv(r, 4, 6, 3, { pads: [0, 0, 1, 1], strides: [2, 2] }, 'c2'); // [N,6,4,4]
      const dw = conv(g.op('Tanh', [c2]), 6, 6, 3, { pads: [1, 1, 1, 1], group: 6 }, 'dw');
      const up = g.op('ConvTranspose', [dw, w(g, s, 'ct_w', [6, 2, 3, 3], 0.5), w(g, s, 'ct_b', [2], 0.1)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, 'ct'); // [N,2,8,8]
      h = g.op('Tanh', [up]);
      features = 2 * 8 * 8;
      break;
    }
    case 'pool': {
      const c = g.op('Tanh', [conv(x, 3, 4, 3, { pads: [1, 1, 1, 1] }, 'c1')]);
      const a = g.op('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2] }, 'mp_apart'); // 4x4
      const b = g.op('MaxPool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 'mp_overlap'); // 4x4
      const av = g.op('AveragePool', [g.op('Add', [a, b])], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, 'avg_pad'); // 4x4
      const av2 = g.op('AveragePool', [av], { kernel_shape: [2, 2], strides: [2, 2], count_include_pad: 1 }, 'avg_incl'); // 2x2
      const gap = g.op('GlobalAveragePool', [av2], {}, 'gap');
      const gmp = g.op('GlobalMaxPool', [av2], {}, 'gmp');
      h = g.op('Concat', [gap, gmp], { axis: 1 });
      features = 8;
      break;
    }
    case 'activation': {
      const c = conv(x, 3, 6, 3, { pads: [1, 1, 1, 1], strides: [2, 2] }, 'c1'); // [N,6,4,4]
      const parts = [
        g.op('LeakyRelu', [c], { alpha: 0.1 }),
        g.op('Elu', [c], { alpha: 0.7 }),
        g.op('Sigmoid', [c]),
        g.op('Tanh', [c]),
        g.op('Softplus', [c]),
        g.op('HardSigmoid', [c], { alpha: 0.3, beta: 0.4 }),
        g.op('Clip', [c, g.scalar(-0.3), g.scalar(0.4)]),
        g.op('Softmax', [c], { axis: -1 }),
      ];
      h = parts.reduce((p, q) => g.op('Add', [p, q]));
      features = 6 * 4 * 4;
      break;
    }
    case 'broadcast': {
      const c = g.op('Tanh', [conv(x, 3, 4, 3, { pads: [1, 1, 1, 1], strides: [2, 2] }, 'c1')]); // [N,4,4,4]
      const k = (name: string, lo: number): string => g.float(name, Float32Array.from({ length: 4 }, (_, i) => lo + 0.2 * i), [1, 4, 1, 1]);
      const m = g.op('ReduceMean', [c], { axes: [1], keepdims: 1 }); // [N,1,4,4], from the input
      const a = g.op('Mul', [g.op('Sub', [g.op('Add', [c, k('k1', 0.1)]), m]), k('k2', 0.5)]);
      const d = g.op('Div', [a, g.op('Add', [g.op('Sigmoid', [m]), g.scalar(1)])]); // a divisor computed from the input
      const p = g.op('Pow', [g.op('Add', [g.op('Sigmoid', [d]), g.scalar(0.5)]), g.float('expo', Float32Array.from([1.5]), [])]);
      const mx = g.op('Max', [d, g.op('Mul', [m, g.scalar(0.5)])]);
      const mn = g.op('Min', [p, g.scalar(1.1)]);
      const sum = g.op('Add', [mx, mn]);
      const flat = g.op('Flatten', [sum], { axis: 1 }); // [N,64]
      const mm = g.op('Tanh', [g.op('MatMul', [flat, w(g, s, 'mm_w', [64, 16], 0.4)])]);
      h = mm;
      features = 16;
      break;
    }
    case 'shape': {
      const c1 = g.op('Tanh', [conv(x, 3, 2, 3, { pads: [1, 1, 1, 1] }, 'c1')]);
      const c2 = g.op('Sigmoid', [conv(x, 3, 3, 1, {}, 'c2')]);
      const cat = g.op('Concat', [c1, c2], { axis: 1 }); // [N,5,8,8]
      const picked = g.op('Gather', [cat, i64('channels', [4, 0, 2, 2])], { axis: 1 }); // [N,4,8,8]
      const mirrored = g.op('Pad', [picked, i64('rpads', [0, 0, 1, 2, 0, 0, 2, 1])], { mode: 'reflect' }); // [N,4,11,11]
      const padded = g.op('Pad', [mirrored, i64('pads', [0, 0, 1, 0, 0, 0, 0, 1]), g.scalar(0.25)]); // [N,4,12,12]
      const sliced = g.op('Slice', [padded, i64('st', [1, 2]), i64('en', [10, 9]), i64('ax', [2, 3])]); // [N,4,9,7]
      const strided = g.op('Slice', [padded, i64('st2', [0, 1]), i64('en2', [12, 12]), i64('ax2', [2, 3]), i64('steps2', [2, 3])]); // [N,4,6,4]
      const skip = g.op('Mul', [g.op('ReduceMean', [strided], { axes: [2, 3], keepdims: 1 }), g.scalar(0.5)]); // [N,4,1,1]
      const t = g.op('Transpose', [g.op('Add', [sliced, skip])], { perm: [0, 2, 3, 1] }); // [N,9,7,4]
      const u = g.op('Unsqueeze', [t, i64('uax', [1])]); // [N,1,9,7,4]
      const sq = g.op('Squeeze', [g.op('Identity', [u]), i64('sax', [1])]);
      const d = g.op('Dropout', [sq]);
      const r = g.op('Reshape', [d, i64('shape', [0, 63, 4])]); // [N,63,4]
      h = g.op('Flatten', [r], { axis: 1 });
      features = 252;
      break;
    }
  }
  const flat = g.op('Flatten', [h], { axis: 1 });
  const out = g.op('Gemm', [flat, w(g, s, 'fc_w', [5, features], 1.5 / Math.sqrt(features)), w(g, s, 'fc_b', [5], 0.1)], { transB: 1 }, 'fc');
  g.output(out, 'logits', [N, 5]);
  return g.serialize(`family-${family}`);
}

/**
 * Models the ONNX Runtime backward graph does not cover (the tfjs mapping differentiates them): NCHW [N,3,8,8] ->
 * Conv -> Tanh -> Flatten -> Gemm -> 3 classes, written for opset 12 (known at load), or with the identity
 * written as a Concat of the batch with itself, averaged back (a Concat over the batch: found when the graph is
 * built).
 */
export function fallbackModel(kind: 'opset-12' | 'batch-concat'): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', ['N', 3, 8, 8]);
  let h = x;
  if (kind === 'batch-concat') {
    const twice = g.op('Concat', [x, x], { axis: 0 }, 'twice');
    const rows = g.op('Reshape', [twice, g.int64('two_rows', [2, -1])]);
    const mean = g.op('ReduceMean', [rows], { axes: [0], keepdims: 0 });
    h = g.op('Reshape', [mean, g.op('Shape', [x])], {}, 'back');
  }
  const c = g.op('Tanh', [g.op('Conv', [h, w(g, 5, 'c_w', [2, 3, 3, 3], 0.5)], { kernel_shape: [3, 3], strides: [2, 2] }, 'conv')]);
  const out = g.op('Gemm', [g.op('Flatten', [c]), w(g, 5, 'fc_w', [3, 18], 0.5)], { transB: 1 }, 'fc');
  g.output(out, 'logits', ['N', 3]);
  const bytes = g.serialize(`fallback-${kind}`);
  if (kind !== 'opset-12') return bytes;
  const model = onnx.ModelProto.decode(bytes);
  model.opsetImport = [{ domain: '', version: 12 }];
  model.irVersion = 7;
  return onnx.ModelProto.encode(model).finish();
}
