/**
 * Small ONNX models built in the tests (with the engine's onnx-proto graph builder): the shapes of layers a
 * user's exported CNN has, a few KB each, written to a temporary directory.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
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
