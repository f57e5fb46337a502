/**
 * An ONNX graph run as tfjs ops, so that tfjs autodiff gives the input gradient (docs/import.md lists the operator
 * set). Each node maps onto the tfjs op of the same meaning; the gradient is then the exact derivative of the
 * forward, except at the non-differentiable operators, whose backward the gradient mode chooses:
 *
 *   natural        the true gradient: zero through Sign, Round, Floor, Ceil, QuantizeLinear's rounding, integer
 *                  Casts, comparisons, ArgMax (almost everywhere their derivative)
 *   bpda-identity  straight-through (BPDA with the identity, Athalye et al. 2018): Sign, Round, Floor, Ceil, the
 *                  rounding of QuantizeLinear and integer Casts pass the gradient unchanged; a comparison a > b
 *                  (a >= b) passes it as the step of (a - b) would be passed by the identity, a < b as of (b - a);
 *                  Equal and ArgMax stay zero (no direction to pass)
 *
 * Layout: ONNX image tensors are NCHW; tfjs convolutions and pools run NHWC. A value carries its tensor and
 * whether that tensor holds the NCHW value transposed to NHWC, so chains of Conv, BatchNormalization,
 * activations, pools and elementwise ops stay NHWC, and only ops whose meaning depends on the axis order
 * (Flatten, Reshape, Transpose, Softmax, ...) see the NCHW order (one transpose where the chain ends).
 *
 * Small integer values (shapes, axes, indices: Shape, Gather, Unsqueeze, Concat, Slice over them) are computed on
 * the host, as PyTorch's exporter writes `x.view(x.size(0), -1)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import type { ConstTensor, OnnxGraphInfo, OnnxNode } from './onnx-file';

export type ImportGradientMode = 'natural' | 'bpda-identity';
export const IMPORT_GRADIENT_MODES: readonly ImportGradientMode[] = ['natural', 'bpda-identity'];

/** A value on the host: small integer tensors (shapes, axes, indices). */
interface Host {
  host: number[];
  dims: number[];
}
/** A tensor value; `nhwc`: a rank-4 NCHW value stored transposed to NHWC. */
interface Dev {
  t: tf.Tensor;
  nhwc: boolean;
}
type Val = Host | Dev;

const isHost = (v: Val): v is Host => 'host' in v;

/** A value's shape in the ONNX graph (NCHW for images) and, for a small integer value computed on the host, its values. */
export interface ValueShape {
  dims: number[];
  host?: number[];
}

/** Operators with a forward and an input gradient here (the supported set; docs/import.md). */
export const DIFFERENTIABLE_OPS = [
  'Conv', 'ConvTranspose', 'BatchNormalization', 'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Sigmoid', 'Tanh', 'Softplus',
  'HardSigmoid', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Gemm', 'MatMul', 'Add', 'Sub',
  'Mul', 'Div', 'Pow', 'Max', 'Min', 'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Concat', 'Flatten',
  'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Pad', 'Clip', 'Softmax', 'LogSoftmax', 'Identity', 'Dropout',
  'Constant', 'Shape', 'Gather', 'Slice', 'Cast', 'Where', 'ReduceMean', 'ReduceSum', 'DequantizeLinear',
] as const;
/** Operators whose true gradient is zero almost everywhere (straight-through under bpda-identity, see above). */
export const NON_DIFFERENTIABLE_OPS = [
  'Sign', 'Round', 'Floor', 'Ceil', 'QuantizeLinear', 'ArgMax', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not',
] as const;
const SUPPORTED = new Set<string>([...DIFFERENTIABLE_OPS, ...NON_DIFFERENTIABLE_OPS]);

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];
/** NCHW axis -> its position in NHWC storage. */
const NHWC_AXIS = [0, 3, 1, 2];

function ints(v: unknown, fallback: number[]): number[] {
  return Array.isArray(v) ? (v as number[]) : fallback;
}
function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}
function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

/** Sum `dy` over the axes broadcast from `shape` (a gradient of a broadcasting op back to its operand). */
function reduceTo(dy: tf.Tensor, shape: number[]): tf.Tensor {
  let g = dy;
  const lead = g.rank - shape.length;
  if (lead > 0) g = tf.sum(g, Array.from({ length: lead }, (_, i) => i));
  const axes: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1 && g.shape[i] !== 1) axes.push(i);
  });
  if (axes.length) g = tf.sum(g, axes, true);
  return tf.reshape(g, shape);
}

/** tf.customGrad over n tensor inputs (tfjs types the inputs as a loose union; the backward gets the saved inputs). */
function customGradN(
  fn: (inputs: tf.Tensor[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, inputs: tf.Tensor[]) => tf.Tensor[] },
): (...xs: tf.Tensor[]) => tf.Tensor {
  type Fn = Parameters<typeof tf.customGrad<tf.Tensor>>[0];
  const wrapped: Fn = (...args) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, -1) as tf.Tensor[];
    save(inputs);
    const { value, gradFunc } = fn(inputs);
    return { value, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => gradFunc(dy as tf.Tensor, saved) };
  };
  const g = tf.customGrad<tf.Tensor>(wrapped);
  return (...xs: tf.Tensor[]) => g(...xs);
}

/**
 * LeakyReLU with its derivative written out (1 above zero, alpha below): the wasm backend's own LeakyRelu
 * gradient disagreed with finite differences.
 */
function leakyRelu(x: tf.Tensor, alpha: number): tf.Tensor {
  return customGradN(([t]) => ({
    value: tf.leakyRelu(t, alpha),
    gradFunc: (dy, [t0]) => [tf.mul(dy, tf.add(tf.mul(tf.cast(tf.greater(t0, 0), 'float32'), 1 - alpha), alpha))],
  }))(x);
}

/** ELU, alpha (x > 0 ? x : alpha (e^x - 1)), derivative 1 or alpha e^x. */
function elu(x: tf.Tensor, alpha: number): tf.Tensor {
  return customGradN(([t]) => {
    const pos = tf.cast(tf.greater(t, 0), 'float32');
    const neg = tf.mul(alpha, tf.sub(tf.exp(tf.minimum(t, 0)), 1));
    return {
      value: tf.add(tf.mul(pos, t), tf.mul(tf.sub(1, pos), neg)),
      gradFunc: (dy, [t0]) => {
        const p = tf.cast(tf.greater(t0, 0), 'float32');
        return [tf.mul(dy, tf.add(p, tf.mul(tf.sub(1, p), tf.mul(alpha, tf.exp(tf.minimum(t0, 0))))))];
      },
    };
  })(x);
}

/** maximum / minimum with the broadcast axes summed out of each operand's gradient (tfjs's own leaves them in). */
function extremum(a: tf.Tensor, b: tf.Tensor, kind: 'max' | 'min'): tf.Tensor {
  return customGradN(([p, q]) => ({
    value: kind === 'max' ? tf.maximum(p, q) : tf.minimum(p, q),
    gradFunc: (dy, [p0, q0]) => {
      // a wins where a >= b (max) or a <= b (min), as tfjs's own gradient
      const first = tf.cast(kind === 'max' ? tf.greaterEqual(p0, q0) : tf.lessEqual(p0, q0), 'float32');
      return [reduceTo(tf.mul(dy, first), p0.shape), reduceTo(tf.mul(dy, tf.sub(1, first)), q0.shape)];
    },
  }))(a, b);
}

/**
 * A 'valid' max-pool over NHWC x whose gradient goes to each window's first maximum (row-major), summed over
 * overlapping windows. tfjs's own gradient is used where windows do not overlap; with overlapping windows (kernel
 * larger than the stride) the wasm backend's disagreed with finite differences, so the backward is written out:
 * each window offset compared with the maximum, the first kept, and the offsets scattered back with a one-hot
 * transposed convolution.
 */
function maxPoolValid(x: tf.Tensor4D, k: [number, number], s: [number, number]): tf.Tensor4D {
  if (k[0] <= s[0] && k[1] <= s[1]) return tf.maxPool(x, k, s, 'valid');
  return customGradN(([xin]) => ({
    value: tf.maxPool(xin as tf.Tensor4D, k, s, 'valid'),
    gradFunc: (dy, [x0]) => {
      const [n, hp, wp, c] = x0.shape;
      const y = tf.maxPool(x0 as tf.Tensor4D, k, s, 'valid');
      const [, ho, wo] = y.shape;
      const cols: tf.Tensor[] = [];
      let found: tf.Tensor | null = null;
      for (let p = 0; p < k[0]; p++)
        for (let q = 0; q < k[1]; q++) {
          const win = tf.stridedSlice(x0, [0, p, q, 0], [n, p + (ho - 1) * s[0] + 1, q + (wo - 1) * s[1] + 1, c], [1, s[0], s[1], 1]);
          const eq = tf.cast(tf.equal(win, y), 'float32');
          const take: tf.Tensor = found ? tf.mul(eq, tf.sub(1, found)) : eq;
          found = found ? tf.add(found, take) : take;
          // [N, Ho, Wo, C] -> [N*C, Ho, Wo, 1]
          cols.push(tf.reshape(tf.transpose(tf.mul(dy, take), [0, 3, 1, 2]), [n * c, ho, wo, 1]));
        }
      const K = k[0] * k[1];
      const oneHot = new Float32Array(k[0] * k[1] * K);
      for (let i = 0; i < K; i++) oneHot[i * K + i] = 1; // [kh, kw, out 1, in K]: offset i reads column i
      const e = [(ho - 1) * s[0] + k[0], (wo - 1) * s[1] + k[1]];
      let back: tf.Tensor4D = tf.conv2dTranspose(tf.concat(cols, 3) as tf.Tensor4D, tf.tensor4d(oneHot, [k[0], k[1], 1, K]), [n * c, e[0], e[1], 1], s, 'valid');
      if (e[0] < hp || e[1] < wp) back = tf.pad(back, [[0, 0], [0, hp - e[0]], [0, wp - e[1]], [0, 0]]);
      return [tf.transpose(tf.reshape(back, [n, c, hp, wp]), [0, 2, 3, 1])];
    },
  }))(x) as tf.Tensor4D;
}

/**
 * x contracted along `axis` with the 0/1 matrix m [rows, n]: out[..., o, ...] = sum_i m[o][i] x[..., i, ...]. A
 * selection or repetition of entries along one axis as a matrix product, whose gradient the wasm backend has.
 */
function selectAlong(x: tf.Tensor, axis: number, m: Float32Array, rows: number): tf.Tensor {
  const rank = x.rank;
  const n = x.shape[axis];
  const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis), axis];
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => (inv[p] = i));
  const moved = axis === rank - 1 ? x : tf.transpose(x, perm);
  const r = tf.matMul(tf.reshape(moved, [-1, n]), tf.tensor2d(m, [rows, n]), false, true);
  const shaped = tf.reshape(r, [...moved.shape.slice(0, -1), rows]);
  return axis === rank - 1 ? shaped : tf.transpose(shaped, inv);
}

/**
 * The 0/1 selection matrix [n + p0 + p1, n] of ONNX reflect Pad along one axis of length n (mirrored at the ends,
 * no edge repeated): row o picks the input element padded output o copies. Its transpose is the Pad's backward
 * (src/import/onnx-backward.ts).
 */
export function reflectPadMatrix(n: number, p0: number, p1: number): Float32Array {
  const rows = n + p0 + p1;
  const m = new Float32Array(rows * n);
  for (let o = 0; o < rows; o++) {
    let i = Math.abs(o - p0);
    if (i >= n) i = 2 * (n - 1) - i;
    m[o * n + i] = 1;
  }
  return m;
}

/** ONNX reflect Pad, axis by axis as selections (see selectAlong). */
function reflectPad(x: tf.Tensor, pairs: [number, number][]): tf.Tensor {
  let t = x;
  pairs.forEach(([p0, p1], ax) => {
    if (p0 === 0 && p1 === 0) return;
    const n = t.shape[ax];
    t = selectAlong(t, ax, reflectPadMatrix(n, p0, p1), n + p0 + p1);
  });
  return t;
}

/** SAME_UPPER pads (top, left, bottom, right) of a window over an NHWC map: the extra pad at the end. */
function samePads(shape: number[], k: number[], s: number[]): [number, number, number, number] {
  const pad = (size: number, kk: number, ss: number): [number, number] => {
    const out = Math.ceil(size / ss);
    const total = Math.max(0, (out - 1) * ss + kk - size);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [pt, pb] = pad(shape[1], k[0], s[0]);
  const [pl, pr] = pad(shape[2], k[1], s[1]);
  return [pt, pl, pb, pr];
}

function unsupported(node: OnnxNode, what: string): UserError {
  return new UserError(`unsupported ONNX ${what} in node '${node.name}' (${node.opType}): see docs/import.md for the supported operator set`);
}

export class TfjsOnnxGraph {
  private readonly consts = new Map<string, Val>();
  /** Per-node prepared weights (Conv filters in tfjs layout, BatchNorm scale/shift), kept for the graph's life. */
  private readonly prepared = new Map<string, tf.Tensor[]>();
  private disposed = false;

  constructor(
    private readonly info: OnnxGraphInfo,
    readonly mode: ImportGradientMode,
  ) {
    checkOperators(info);
    for (const [name, c] of info.constants) this.consts.set(name, this.constVal(c));
    for (const n of info.nodes) this.prepare(n);
  }

  private constVal(c: ConstTensor): Val {
    if (c.integer && c.data.length <= 4096) return { host: Array.from(c.data), dims: c.dims };
    return { t: tf.tensor(c.data, c.dims, 'float32'), nhwc: false };
  }

  private constant(node: OnnxNode, i: number, what: string): ConstTensor {
    const c = this.info.constants.get(node.inputs[i]);
    if (!c) throw unsupported(node, `${what} that is not a constant of the graph`);
    return c;
  }

  /** Weights in tfjs form, made once (load time, outside any tidy). */
  private prepare(node: OnnxNode): void {
    if (node.opType === 'Conv') {
      const w = this.constant(node, 1, 'Conv weight');
      const [o, ipg, kh, kw] = w.dims;
      const group = num(node.attrs.group, 1);
      if (ints(node.attrs.dilations, [1, 1]).some((d) => d !== 1)) throw unsupported(node, 'attribute dilations > 1');
      if (w.dims.length !== 4) throw unsupported(node, `Conv with a ${w.dims.length - 2}-d kernel`);
      const oihw = tf.tensor4d(w.data, [o, ipg, kh, kw]);
      let filter: tf.Tensor;
      if (group === 1) filter = tf.transpose(oihw, [2, 3, 1, 0]); // [kh, kw, in, out]
      else if (ipg === 1 && o % group === 0) {
        // depthwise: output channel c*m + j reads input channel c. As a dense [kh, kw, group, o] filter, zero
        // outside each channel's block: the wasm backend has no input-gradient kernel for depthwiseConv2d.
        const m = o / group;
        const dense = new Float32Array(kh * kw * group * o);
        for (let c = 0; c < group; c++)
          for (let j = 0; j < m; j++)
            for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) dense[((p * kw + q) * group + c) * o + c * m + j] = w.data[((c * m + j) * kh + p) * kw + q];
        filter = tf.tensor4d(dense, [kh, kw, group, o]);
      } else throw unsupported(node, `grouped Conv (group ${group}, ${ipg} input channels per group)`);
      oihw.dispose();
      const bias = node.inputs[2] ? tf.tensor1d(this.constant(node, 2, 'Conv bias').data) : null;
      this.prepared.set(node.name, bias ? [filter, bias] : [filter]);
    } else if (node.opType === 'ConvTranspose') {
      const w = this.constant(node, 1, 'ConvTranspose weight');
      if (num(node.attrs.group, 1) !== 1) throw unsupported(node, 'grouped ConvTranspose');
      if (ints(node.attrs.dilations, [1, 1]).some((d) => d !== 1)) throw unsupported(node, 'attribute dilations > 1');
      if (node.attrs.output_shape) throw unsupported(node, 'attribute output_shape');
      const [ci, co, kh, kw] = w.dims;
      const iohw = tf.tensor4d(w.data, [ci, co, kh, kw]);
      const filter = tf.transpose(iohw, [2, 3, 1, 0]); // [kh, kw, out, in]
      iohw.dispose();
      const bias = node.inputs[2] ? tf.tensor1d(this.constant(node, 2, 'ConvTranspose bias').data) : null;
      this.prepared.set(node.name, bias ? [filter, bias] : [filter]);
    } else if (node.opType === 'BatchNormalization') {
      const [scale, b, mean, variance] = [1, 2, 3, 4].map((i) => this.constant(node, i, 'BatchNormalization parameter').data);
      const eps = num(node.attrs.epsilon, 1e-5);
      const a = scale.map((s, c) => s / Math.sqrt(variance[c] + eps));
      const shift = b.map((v, c) => v - mean[c] * a[c]);
      this.prepared.set(node.name, [tf.tensor1d(a), tf.tensor1d(shift)]);
    } else if (node.opType === 'MaxPool' || node.opType === 'AveragePool') {
      if (ints(node.attrs.dilations, [1, 1]).some((d) => d !== 1)) throw unsupported(node, 'attribute dilations > 1');
      if (ints(node.attrs.kernel_shape, []).length !== 2) throw unsupported(node, 'pooling that is not 2-d');
      if (node.opType === 'AveragePool' && num(node.attrs.ceil_mode, 0) === 1) throw unsupported(node, 'attribute ceil_mode = 1');
      if (node.outputs.length > 1 && node.outputs[1]) throw unsupported(node, 'MaxPool Indices output');
    } else if (node.opType === 'Pad') {
      const mode = str(node.attrs.mode, 'constant');
      if (mode !== 'constant' && mode !== 'reflect') throw unsupported(node, `Pad mode '${mode}'`);
    } else if (node.opType === 'Gemm' || node.opType === 'MatMul') {
      // nothing to prepare: the weights are used as stored
    }
    const ap = str(node.attrs.auto_pad, 'NOTSET');
    if (ap !== 'NOTSET' && ap !== 'VALID' && ap !== 'SAME_UPPER') throw unsupported(node, `attribute auto_pad '${ap}'`);
  }

  // ---- value helpers ----
  private dev(v: Val): tf.Tensor {
    // the NCHW (logical) tensor
    if (isHost(v)) return tf.tensor(v.host, v.dims, 'float32');
    return v.nhwc ? tf.transpose(v.t, TO_NCHW) : v.t;
  }
  private nhwc(v: Val): tf.Tensor {
    if (!isHost(v) && v.nhwc) return v.t;
    const t = this.dev(v);
    if (t.rank !== 4) throw new Error(`expected a 4-d image tensor, got shape [${t.shape}]`);
    return tf.transpose(t, TO_NHWC);
  }
  private shapeOf(v: Val): number[] {
    if (isHost(v)) return v.dims;
    if (!v.nhwc) return v.t.shape;
    const [n, h, w, c] = v.t.shape;
    return [n, c, h, w];
  }
  private hostInts(v: Val | undefined, node: OnnxNode, what: string): number[] {
    if (!v) throw unsupported(node, `missing ${what}`);
    if (isHost(v)) return v.host;
    throw unsupported(node, `${what} computed from tensors`);
  }

  /**
   * Run the graph on `input` (the graph's input value, NCHW or NHWC as the graph declares; `inputIsNhwcOfNchw`
   * marks an NHWC tensor of a graph that reads NCHW). Returns the first output as a tensor. Call inside tf.tidy.
   */
  run(input: tf.Tensor, inputIsNhwcOfNchw: boolean): tf.Tensor {
    const env = this.evaluate(input, inputIsNhwcOfNchw);
    const out = env.get(this.info.output.name);
    if (!out) throw new Error(`graph output '${this.info.output.name}' is not computed`);
    return this.dev(out);
  }

  /**
   * The ONNX (logical) shape of every value of the graph, from one run on a zero input of `batch` images, and
   * the values of the small integer ones computed on the host (shapes, axes, pads): what a builder of a graph
   * derived from this one needs to know statically (onnx-backward.ts).
   */
  valueShapes(batch: number): Map<string, ValueShape> {
    const out = new Map<string, ValueShape>();
    tf.tidy(() => {
      const dims = this.info.input.dims.map((d, i) => (i === 0 ? batch : (d as number)));
      const env = this.evaluate(tf.zeros(dims), false);
      for (const [name, v] of env) out.set(name, isHost(v) ? { dims: v.dims, host: v.host } : { dims: this.shapeOf(v) });
    });
    return out;
  }

  private evaluate(input: tf.Tensor, inputIsNhwcOfNchw: boolean): Map<string, Val> {
    if (this.disposed) throw new Error('TfjsOnnxGraph used after dispose()');
    const env = new Map<string, Val>(this.consts);
    env.set(this.info.input.name, { t: input, nhwc: inputIsNhwcOfNchw });
    for (const node of this.info.nodes) {
      const ins = node.inputs.map((n) => (n === '' ? undefined : env.get(n)));
      node.inputs.forEach((n, i) => {
        if (n !== '' && ins[i] === undefined) throw new Error(`node '${node.name}': input '${n}' is not computed before it (the graph is not in topological order)`);
      });
      const outs = this.exec(node, ins);
      outs.forEach((v, i) => {
        if (node.outputs[i]) env.set(node.outputs[i], v);
      });
    }
    return env;
  }

  private pads2d(node: OnnxNode): [number, number, number, number] {
    const p = ints(node.attrs.pads, [0, 0, 0, 0]);
    return [p[0], p[1], p[2], p[3]]; // top, left, bottom, right
  }

  /** NHWC x padded explicitly when the pads are not one number (value for the pad). */
  private padded(x: tf.Tensor4D, node: OnnxNode, value = 0): { x: tf.Tensor4D; pad: number | 'valid' | 'same' } {
    const ap = str(node.attrs.auto_pad, 'NOTSET');
    if (ap === 'VALID') return { x, pad: 'valid' };
    if (ap === 'SAME_UPPER') return { x, pad: 'same' };
    const [t, l, b, r] = this.pads2d(node);
    if (t === l && t === b && t === r) return { x, pad: t };
    return { x: tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], value), pad: 'valid' };
  }

  private step(x: tf.Tensor, f: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
    // a non-differentiable elementwise op: zero gradient (natural) or the identity's (bpda-identity)
    const ste = this.mode === 'bpda-identity';
    return customGradN(([a]) => ({ value: f(a), gradFunc: (dy, [a0]) => [ste ? tf.clone(dy) : tf.zerosLike(a0)] }))(x);
  }

  private compare(a: tf.Tensor, b: tf.Tensor, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, direction: 1 | -1 | 0): tf.Tensor {
    const ste = this.mode === 'bpda-identity' && direction !== 0;
    return customGradN(([p, q]) => ({
      value: tf.cast(f(p, q), 'float32'),
      gradFunc: (dy, [p0, q0]) =>
        ste ? [reduceTo(tf.mul(dy, direction), p0.shape), reduceTo(tf.mul(dy, -direction), q0.shape)] : [tf.zerosLike(p0), tf.zerosLike(q0)],
    }))(a, b);
  }

  /** Elementwise op over broadcast operands, NHWC where an image operand is stored so. */
  private elementwise(vals: Val[], f: (...t: tf.Tensor[]) => tf.Tensor): Val {
    const shapes = vals.map((v) => this.shapeOf(v));
    const rank = Math.max(...shapes.map((s) => s.length));
    if (rank === 4 && vals.some((v) => !isHost(v) && v.nhwc)) {
      const ts = vals.map((v, i) => {
        if (!isHost(v) && v.nhwc) return v.t;
        const t = this.dev(v);
        const s = shapes[i];
        const four = s.length < 4 ? tf.reshape(t, [...new Array(4 - s.length).fill(1), ...s]) : t;
        return tf.transpose(four, TO_NHWC);
      });
      return { t: f(...ts), nhwc: true };
    }
    if (vals.every(isHost) && vals.length <= 2) {
      // host arithmetic on shapes (e.g. a batch size times a width)
      const t = f(...vals.map((v) => this.dev(v)));
      return { host: Array.from(t.dataSync()), dims: t.shape };
    }
    return { t: f(...vals.map((v) => this.dev(v))), nhwc: false };
  }

  private unary(v: Val, f: (t: tf.Tensor) => tf.Tensor): Val {
    if (!isHost(v)) return { t: f(v.t), nhwc: v.nhwc };
    return { t: f(this.dev(v)), nhwc: false };
  }

  private axisOf(axis: number, rank: number): number {
    return axis < 0 ? axis + rank : axis;
  }

  private exec(node: OnnxNode, ins: (Val | undefined)[]): Val[] {
    const a = node.attrs;
    const x = ins[0] as Val;
    const opset = this.info.opset;
    switch (node.opType) {
      case 'Identity':
      case 'Dropout':
        return [x];
      case 'Constant':
        return [this.consts.get(node.outputs[0]) ?? this.constVal(a.value as ConstTensor)];
      case 'Conv': {
        const [filter, bias] = this.prepared.get(node.name)!;
        const { x: xp, pad } = this.padded(this.nhwc(x) as tf.Tensor4D, node);
        const s = ints(a.strides, [1, 1]) as [number, number];
        let y: tf.Tensor = tf.conv2d(xp, filter as tf.Tensor4D, s, pad);
        if (bias) y = tf.add(y, bias);
        return [{ t: y, nhwc: true }];
      }
      case 'ConvTranspose': {
        const [filter, bias] = this.prepared.get(node.name)!;
        const xin = this.nhwc(x) as tf.Tensor4D;
        const [n, h, w] = xin.shape;
        const [kh, kw, co] = filter.shape;
        const [sh, sw] = ints(a.strides, [1, 1]);
        const [t, l, b, r] = this.pads2d(node);
        const [oph, opw] = ints(a.output_padding, [0, 0]);
        const full = tf.conv2dTranspose(xin, filter as tf.Tensor4D, [n, (h - 1) * sh + kh, (w - 1) * sw + kw, co], [sh, sw], 'valid');
        const grown = oph || opw ? tf.pad(full, [[0, 0], [0, oph], [0, opw], [0, 0]]) : full;
        let y: tf.Tensor = tf.slice(grown, [0, t, l, 0], [n, grown.shape[1]! - t - b, grown.shape[2]! - l - r, co]);
        if (bias) y = tf.add(y, bias);
        return [{ t: y, nhwc: true }];
      }
      case 'BatchNormalization': {
        const [scale, shift] = this.prepared.get(node.name)!;
        if (!isHost(x) && x.nhwc) return [{ t: tf.add(tf.mul(x.t, scale), shift), nhwc: true }];
        const t = this.dev(x);
        const shape = [1, scale.size, ...new Array(Math.max(0, t.rank - 2)).fill(1)];
        return [{ t: tf.add(tf.mul(t, tf.reshape(scale, shape)), tf.reshape(shift, shape)), nhwc: false }];
      }
      case 'Relu':
        return [this.unary(x, tf.relu)];
      case 'LeakyRelu':
        return [this.unary(x, (t) => leakyRelu(t, num(a.alpha, 0.01)))];
      case 'Elu':
        return [this.unary(x, (t) => elu(t, num(a.alpha, 1)))];
      case 'Sigmoid':
        return [this.unary(x, tf.sigmoid)];
      case 'Tanh':
        return [this.unary(x, tf.tanh)];
      case 'Softplus':
        return [this.unary(x, tf.softplus)];
      case 'HardSigmoid':
        return [this.unary(x, (t) => tf.clipByValue(tf.add(tf.mul(t, num(a.alpha, 0.2)), num(a.beta, 0.5)), 0, 1))];
      case 'Neg':
        return [this.unary(x, tf.neg)];
      case 'Abs':
        return [this.unary(x, tf.abs)];
      case 'Exp':
        return [this.unary(x, tf.exp)];
      case 'Log':
        return [this.unary(x, tf.log)];
      case 'Sqrt':
        return [this.unary(x, tf.sqrt)];
      case 'Reciprocal':
        return [this.unary(x, tf.reciprocal)];
      case 'Sign':
        return [this.unary(x, (t) => this.step(t, tf.sign))];
      case 'Round':
        return [this.unary(x, (t) => this.step(t, tf.round))];
      case 'Floor':
        return [this.unary(x, (t) => this.step(t, tf.floor))];
      case 'Ceil':
        return [this.unary(x, (t) => this.step(t, tf.ceil))];
      case 'Not':
        return [this.unary(x, (t) => this.step(t, (u) => tf.sub(1, u)))];
      case 'Clip': {
        const lo = opset >= 11 ? (ins[1] ? this.scalarOf(ins[1], node, 1, 'min') : -Infinity) : num(a.min, -Infinity);
        const hi = opset >= 11 ? (ins[2] ? this.scalarOf(ins[2], node, 2, 'max') : Infinity) : num(a.max, Infinity);
        return [this.unary(x, (t) => tf.clipByValue(t, Math.max(lo, -3.4e38), Math.min(hi, 3.4e38)))];
      }
      case 'PRelu':
        return [this.elementwise([x, ins[1]!], (t, s) => tf.add(tf.relu(t), tf.mul(s, tf.neg(tf.relu(tf.neg(t))))))];
      case 'Add':
        return [this.elementwise([x, ins[1]!], tf.add)];
      case 'Sub':
        return [this.elementwise([x, ins[1]!], tf.sub)];
      case 'Mul':
        return [this.elementwise([x, ins[1]!], tf.mul)];
      case 'Div':
        return [this.elementwise([x, ins[1]!], tf.div)];
      case 'Pow':
        return [this.elementwise([x, ins[1]!], tf.pow)];
      case 'Max':
        return [this.elementwise(ins as Val[], (...t) => t.reduce((p, q) => extremum(p, q, 'max')))];
      case 'Min':
        return [this.elementwise(ins as Val[], (...t) => t.reduce((p, q) => extremum(p, q, 'min')))];
      case 'Equal':
        return [this.elementwise([x, ins[1]!], (p, q) => this.compare(p, q, tf.equal, 0))];
      case 'Greater':
        return [this.elementwise([x, ins[1]!], (p, q) => this.compare(p, q, tf.greater, 1))];
      case 'GreaterOrEqual':
        return [this.elementwise([x, ins[1]!], (p, q) => this.compare(p, q, tf.greaterEqual, 1))];
      case 'Less':
        return [this.elementwise([x, ins[1]!], (p, q) => this.compare(p, q, tf.less, -1))];
      case 'LessOrEqual':
        return [this.elementwise([x, ins[1]!], (p, q) => this.compare(p, q, tf.lessEqual, -1))];
      case 'Where': {
        const ste = this.mode === 'bpda-identity';
        return [
          this.elementwise([x, ins[1]!, ins[2]!], (c, p, q) => {
            const shape = tf.broadcast_util.assertAndGetBroadcastShape(tf.broadcast_util.assertAndGetBroadcastShape(c.shape, p.shape), q.shape);
            return customGradN(([cc, pp, qq]) => ({
              value: tf.where(tf.broadcastTo(tf.greater(cc, 0.5), shape), tf.broadcastTo(pp, shape), tf.broadcastTo(qq, shape)),
              gradFunc: (dy, [c0, p0, q0]) => {
                const m = tf.cast(tf.broadcastTo(tf.greater(c0, 0.5), shape), 'float32');
                return [
                  ste ? reduceTo(tf.mul(dy, tf.sub(p0, q0)), c0.shape) : tf.zerosLike(c0),
                  reduceTo(tf.mul(dy, m), p0.shape),
                  reduceTo(tf.mul(dy, tf.sub(1, m)), q0.shape),
                ];
              },
            }))(c, p, q);
          }),
        ];
      }
      case 'QuantizeLinear': {
        const zpConst = node.inputs[2] ? this.info.constants.get(node.inputs[2]) : undefined;
        const signed = zpConst?.elem === 'INT8';
        const [lo, hi] = signed ? [-128, 127] : [0, 255];
        const scale = this.perAxis(ins[1]!, node, x);
        const zp = ins[2] ? this.perAxis(ins[2], node, x) : null;
        return [this.elementwise(zp ? [x, scale, zp] : [x, scale], (t, s, z) => tf.clipByValue(tf.add(this.step(tf.div(t, s), tf.round), z ?? 0), lo, hi))];
      }
      case 'DequantizeLinear': {
        const scale = this.perAxis(ins[1]!, node, x);
        const zp = ins[2] ? this.perAxis(ins[2], node, x) : null;
        return [this.elementwise(zp ? [x, scale, zp] : [x, scale], (t, s, z) => tf.mul(z ? tf.sub(t, z) : t, s))];
      }
      case 'ArgMax': {
        const t = this.dev(x);
        const axis = this.axisOf(num(a.axis, 0), t.rank);
        if (num(a.select_last_index, 0) !== 0) throw unsupported(node, 'attribute select_last_index = 1');
        const r = customGradN(([u]) => ({ value: tf.cast(tf.argMax(u, axis), 'float32'), gradFunc: (_dy, [u0]) => [tf.zerosLike(u0)] }))(t);
        return [{ t: num(a.keepdims, 1) ? tf.expandDims(r, axis) : r, nhwc: false }];
      }
      case 'Cast': {
        const to = num(a.to, 1);
        // FLOAT, DOUBLE, FLOAT16: values as they are; BOOL: x != 0; integer types: truncation
        if (to === 1 || to === 11 || to === 10) return [x];
        if (isHost(x)) return [{ host: x.host.map((v) => (to === 9 ? Number(v !== 0) : Math.trunc(v))), dims: x.dims }];
        if (to === 9) return [this.unary(x, (t) => this.step(t, (u) => tf.cast(tf.notEqual(u, 0), 'float32')))];
        return [this.unary(x, (t) => this.step(t, (u) => tf.mul(tf.sign(u), tf.floor(tf.abs(u)))))];
      }
      case 'MaxPool':
      case 'AveragePool': {
        const xin = this.nhwc(x) as tf.Tensor4D;
        const k = ints(a.kernel_shape, []) as [number, number];
        const s = ints(a.strides, [1, 1]) as [number, number];
        const max = node.opType === 'MaxPool';
        if (max) {
          let [t, l, b, r] = this.pads2d(node);
          if (num(a.ceil_mode, 0) === 1 && str(a.auto_pad, 'NOTSET') === 'NOTSET') {
            // ceil mode: the last, partial window exists; extra end padding (-inf) makes the floor formula give it
            const [, h, w] = xin.shape;
            const extra = (size: number, p0: number, p1: number, kk: number, ss: number): number => {
              const out = Math.ceil((size + p0 + p1 - kk) / ss) + 1;
              // ONNX: the last window must start inside the padded input
              const o = (out - 1) * ss >= size + p0 ? out - 1 : out;
              return Math.max(0, (o - 1) * ss + kk - (size + p0 + p1));
            };
            b += extra(h, t, b, k[0], s[0]);
            r += extra(w, l, r, k[1], s[1]);
          }
          // padding as an explicit pad (-inf) and a 'valid' pool: tfjs's pooling gradients assume no implicit padding
          if (str(a.auto_pad, 'NOTSET') === 'SAME_UPPER') [t, l, b, r] = samePads(xin.shape, k, s);
          if (t + l + b + r === 0 || str(a.auto_pad, 'NOTSET') === 'VALID') return [{ t: maxPoolValid(xin, k, s), nhwc: true }];
          return [{ t: maxPoolValid(tf.pad(xin, [[0, 0], [t, b], [l, r], [0, 0]], -3.4e38), k, s), nhwc: true }];
        }
        const includePad = num(a.count_include_pad, 0) === 1;
        let [t, l, b, r] = this.pads2d(node);
        if (str(a.auto_pad, 'NOTSET') === 'SAME_UPPER') [t, l, b, r] = samePads(xin.shape, k, s);
        if (t + l + b + r === 0 || str(a.auto_pad, 'NOTSET') === 'VALID') return [{ t: tf.avgPool(xin, k, s, 'valid'), nhwc: true }];
        // Zero padding then a 'valid' pool (tfjs's AvgPool gradient divides by the full window even where its
        // forward excludes implicit padding); excluding the padding from the count divides by the pooled ones.
        const paddings: [number, number][] = [[0, 0], [t, b], [l, r], [0, 0]];
        const sum = tf.avgPool(tf.pad(xin, paddings), k, s, 'valid');
        if (includePad) return [{ t: sum, nhwc: true }];
        const count = tf.avgPool(tf.pad(tf.onesLike(xin), paddings), k, s, 'valid');
        return [{ t: tf.div(sum, count), nhwc: true }];
      }
      case 'GlobalAveragePool':
        return [{ t: tf.mean(this.nhwc(x), [1, 2], true), nhwc: true }];
      case 'GlobalMaxPool':
        return [{ t: tf.max(this.nhwc(x), [1, 2], true), nhwc: true }];
      case 'ReduceMean':
      case 'ReduceSum': {
        const t = this.dev(x);
        const axes = (opset >= 18 || node.opType === 'ReduceSum') && opset >= 13 ? (ins[1] ? this.hostInts(ins[1], node, 'axes') : null) : (a.axes as number[] | undefined) ?? null;
        const ax = axes ? axes.map((v) => this.axisOf(v, t.rank)) : Array.from({ length: t.rank }, (_, i) => i);
        const keep = num(a.keepdims, 1) === 1;
        return [{ t: node.opType === 'ReduceMean' ? tf.mean(t, ax, keep) : tf.sum(t, ax, keep), nhwc: false }];
      }
      case 'Gemm': {
        const A = this.dev(x);
        const B = this.dev(ins[1]!);
        let y = tf.matMul(A as tf.Tensor2D, B as tf.Tensor2D, num(a.transA, 0) === 1, num(a.transB, 0) === 1);
        const alpha = num(a.alpha, 1);
        if (alpha !== 1) y = tf.mul(y, alpha);
        if (ins[2]) {
          const beta = num(a.beta, 1);
          const C = this.dev(ins[2]);
          y = tf.add(y, beta === 1 ? C : tf.mul(C, beta));
        }
        return [{ t: y, nhwc: false }];
      }
      case 'MatMul': {
        const A = this.dev(x);
        const B = this.dev(ins[1]!);
        if (A.rank < 2 || B.rank < 2) throw unsupported(node, 'MatMul of a 1-d operand');
        return [{ t: tf.matMul(A, B), nhwc: false }];
      }
      case 'Concat': {
        const vals = ins.filter((v): v is Val => v !== undefined);
        const rank = this.shapeOf(vals[0]).length;
        const axis = this.axisOf(num(a.axis, 0), rank);
        if (vals.every(isHost)) return [{ host: vals.flatMap((v) => (v as Host).host), dims: [vals.reduce((s, v) => s + (v as Host).host.length, 0)] }];
        if (rank === 4 && vals.some((v) => !isHost(v) && v.nhwc)) return [{ t: tf.concat(vals.map((v) => this.nhwc(v)), NHWC_AXIS[axis]), nhwc: true }];
        return [{ t: tf.concat(vals.map((v) => this.dev(v)), axis), nhwc: false }];
      }
      case 'Flatten': {
        const shape = this.shapeOf(x);
        const axis = this.axisOf(num(a.axis, 1), shape.length);
        const lead = shape.slice(0, axis).reduce((p, q) => p * q, 1);
        return [{ t: tf.reshape(this.dev(x), [lead, -1]), nhwc: false }];
      }
      case 'Reshape': {
        const target = this.hostInts(ins[1], node, 'Reshape shape');
        const shape = this.shapeOf(x);
        const allowZero = num(a.allowzero, 0) === 1;
        const dims = target.map((d, i) => (d === 0 && !allowZero ? shape[i] : d));
        if (isHost(x)) return [{ host: x.host, dims: dims.includes(-1) ? [x.host.length] : dims }];
        return [{ t: tf.reshape(this.dev(x), dims), nhwc: false }];
      }
      case 'Transpose': {
        const rank = this.shapeOf(x).length;
        const perm = ints(a.perm, Array.from({ length: rank }, (_, i) => rank - 1 - i));
        if (!isHost(x) && x.nhwc) {
          // the stored tensor's axes: logical axis p is stored at NHWC_AXIS[p]
          const composed = perm.map((p) => NHWC_AXIS[p]);
          return [{ t: composed.every((p, i) => p === i) ? x.t : tf.transpose(x.t, composed), nhwc: false }];
        }
        return [{ t: tf.transpose(this.dev(x), perm), nhwc: false }];
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const shape = this.shapeOf(x);
        const axes = opset >= 13 ? (ins[1] ? this.hostInts(ins[1], node, 'axes') : []) : ints(a.axes, []);
        let dims: number[];
        if (node.opType === 'Squeeze') {
          const ax = (axes.length ? axes : shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((v) => this.axisOf(v, shape.length));
          dims = shape.filter((_, i) => !ax.includes(i));
        } else {
          const outRank = shape.length + axes.length;
          const ax = axes.map((v) => this.axisOf(v, outRank));
          dims = [];
          let j = 0;
          for (let i = 0; i < outRank; i++) dims.push(ax.includes(i) ? 1 : shape[j++]);
        }
        if (isHost(x)) return [{ host: x.host, dims }];
        return [{ t: tf.reshape(this.dev(x), dims), nhwc: false }];
      }
      case 'Shape': {
        const shape = this.shapeOf(x);
        const start = num(a.start, 0);
        const end = a.end === undefined ? shape.length : num(a.end, shape.length);
        const sel = shape.slice(start < 0 ? start + shape.length : start, end < 0 ? end + shape.length : end);
        return [{ host: sel, dims: [sel.length] }];
      }
      case 'Gather': {
        const idx = ins[1]!;
        const axis = this.axisOf(num(a.axis, 0), this.shapeOf(x).length);
        if (isHost(x) && isHost(idx) && x.dims.length === 1) {
          const out = idx.host.map((i) => x.host[i < 0 ? i + x.host.length : i]);
          return [{ host: out, dims: idx.dims }];
        }
        const t = this.dev(x);
        const size = t.shape[axis];
        const ids = isHost(idx) ? idx.host.map((i) => (i < 0 ? i + size : i)) : null;
        if (!ids) throw unsupported(node, 'Gather with indices computed from tensors');
        const idims = (idx as Host).dims;
        if (idims.length > 1) throw unsupported(node, 'Gather with multi-dimensional indices');
        // as a product with the 0/1 selection matrix (tf.gather's gradient needs a kernel the wasm backend lacks)
        const m = new Float32Array(ids.length * size);
        ids.forEach((i, j) => (m[j * size + i] = 1));
        const g = selectAlong(t, axis, m, ids.length);
        return [{ t: idims.length ? g : tf.squeeze(g, [axis]), nhwc: false }];
      }
      case 'Slice': {
        if (opset < 10) throw unsupported(node, 'Slice of opset < 10');
        const shape = this.shapeOf(x);
        const starts = this.hostInts(ins[1], node, 'starts');
        const ends = this.hostInts(ins[2], node, 'ends');
        const axes = ins[3] ? this.hostInts(ins[3], node, 'axes') : starts.map((_, i) => i);
        const steps = ins[4] ? this.hostInts(ins[4], node, 'steps') : starts.map(() => 1);
        const begin = shape.map(() => 0);
        const end = [...shape];
        const stride = shape.map(() => 1);
        axes.forEach((ax0, i) => {
          const ax = this.axisOf(ax0, shape.length);
          const d = shape[ax];
          const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
          begin[ax] = clamp(starts[i]);
          end[ax] = clamp(ends[i]);
          stride[ax] = steps[i];
          if (steps[i] < 1) throw unsupported(node, 'Slice with a negative step');
        });
        if (isHost(x) && x.dims.length === 1) {
          const out: number[] = [];
          for (let i = begin[0]; i < end[0]; i += stride[0]) out.push(x.host[i]);
          return [{ host: out, dims: [out.length] }];
        }
        // tf.slice where every step is 1: tfjs has no gradient for stridedSlice
        if (stride.every((v) => v === 1)) return [{ t: tf.slice(this.dev(x), begin, end.map((e, i) => Math.max(0, e - begin[i]))), nhwc: false }];
        // strided: a selection of every step-th entry per axis (tfjs has no gradient for stridedSlice)
        let t = this.dev(x);
        for (let ax = 0; ax < shape.length; ax++) {
          if (stride[ax] === 1 && begin[ax] === 0 && end[ax] === shape[ax]) continue;
          const picked: number[] = [];
          for (let j = begin[ax]; j < end[ax]; j += stride[ax]) picked.push(j);
          const m = new Float32Array(picked.length * shape[ax]);
          picked.forEach((j, r) => (m[r * shape[ax] + j] = 1));
          t = selectAlong(t, ax, m, picked.length);
        }
        return [{ t, nhwc: false }];
      }
      case 'Pad': {
        const rank = this.shapeOf(x).length;
        const pads = opset >= 11 ? this.hostInts(ins[1], node, 'pads') : ints(a.pads ?? a.paddings, []);
        const value = opset >= 11 ? (ins[2] ? this.scalarOf(ins[2], node, 2, 'constant_value') : 0) : num(a.value, 0);
        if (pads.some((p) => p < 0)) throw unsupported(node, 'negative Pad (cropping)');
        const pairs = Array.from({ length: rank }, (_, i) => [pads[i], pads[i + rank]] as [number, number]);
        const mode = str(a.mode, 'constant');
        if (rank === 4 && !isHost(x) && x.nhwc) {
          const p4 = TO_NHWC.map((i) => pairs[i]);
          return [{ t: mode === 'reflect' ? reflectPad(x.t, p4) : tf.pad(x.t, p4, value), nhwc: true }];
        }
        const t = this.dev(x);
        return [{ t: mode === 'reflect' ? reflectPad(t, pairs) : tf.pad(t, pairs, value), nhwc: false }];
      }
      case 'Softmax':
      case 'LogSoftmax': {
        const t = this.dev(x);
        const axis = this.axisOf(num(a.axis, opset >= 13 ? -1 : 1), t.rank);
        if (axis !== t.rank - 1 && !(opset < 13 && axis === 1 && t.rank === 2)) throw unsupported(node, `${node.opType} over axis ${axis} of a rank-${t.rank} tensor (expected the last axis)`);
        return [{ t: node.opType === 'Softmax' ? tf.softmax(t) : tf.logSoftmax(t), nhwc: false }];
      }
      default:
        throw unsupported(node, `operator '${node.opType}'`);
    }
  }

  /** A scalar input (Clip bounds, Pad value): a constant of the graph or a host value. */
  private scalarOf(v: Val, node: OnnxNode, i: number, what: string): number {
    if (isHost(v)) return v.host[0];
    const c = this.info.constants.get(node.inputs[i]);
    if (c) return c.data[0];
    throw unsupported(node, `${what} computed from tensors`);
  }

  /** A per-axis quantization parameter shaped to broadcast along `axis` of x (scalars as they are). */
  private perAxis(p: Val, node: OnnxNode, x: Val): Val {
    const shape = this.shapeOf(p);
    const size = shape.reduce((s, d) => s * d, 1);
    if (size === 1) return isHost(p) ? { host: [p.host[0]], dims: [] } : p;
    const rank = this.shapeOf(x).length;
    const axis = this.axisOf(num(node.attrs.axis, 1), rank);
    const dims = Array.from({ length: rank }, (_, i) => (i === axis ? size : 1));
    return isHost(p) ? { host: p.host, dims } : { t: tf.reshape(this.dev(p), dims), nhwc: false };
  }

  dispose(): void {
    for (const v of this.consts.values()) if (!isHost(v)) v.t.dispose();
    for (const ts of this.prepared.values()) tf.dispose(ts);
    this.consts.clear();
    this.prepared.clear();
    this.disposed = true;
  }
}

/** The one-line error for the first operator outside the supported set (before any work). */
export function checkOperators(info: OnnxGraphInfo): void {
  for (const n of info.nodes) {
    if ((n.domain !== '' && n.domain !== 'ai.onnx') || !SUPPORTED.has(n.opType)) {
      throw new UserError(`unsupported ONNX operator '${n.domain ? `${n.domain}.` : ''}${n.opType}' in node '${n.name}': expected one of the operators listed in docs/import.md`);
    }
  }
}
