/**
 * One ONNX graph that gives an imported model's logits, per-example attack loss and input gradient, run by ONNX
 * Runtime: the model's own nodes (copied as they are), the input prologue in front of them (NHWC pixels in [0, 1]
 * -> --mean/--std -> the graph's layout), the attack loss of src/engine/builder.ts (emitLoss) on the logits, and
 * a reverse-mode pass appended node by node (reverse topological order; contributions of a value used twice are
 * summed). Each backward rule is the exact derivative of its forward, with the tie rules of the tfjs mapping
 * (tfjs-graph.ts), so both engines give the same gradient:
 *
 *   Conv                 the transposed convolution with the same weights (ConvTranspose, output padding to the
 *                        input size); stride 1, group 1: a Conv with the flipped, channel-swapped kernel
 *   ConvTranspose        a Conv with the same weights, strides and pads
 *   MaxPool              dy to each window's first maximum (row-major, strict '>'): windows that do not overlap
 *                        take the forward's own Indices output and MaxUnpool; overlapping ones compare each
 *                        window offset with the maximum, keep the first, and scatter-add the offsets back with a
 *                        one-hot ConvTranspose (col2im)
 *   AveragePool          dy / (window count, padding excluded or not) scattered back by a ConvTranspose of ones
 *   GlobalAveragePool    dy / (H W) expanded; GlobalMaxPool: dy to every maximum (tfjs's max gradient)
 *   BatchNormalization   dy * scale / sqrt(var + eps) (inference)
 *   Gemm, MatMul         dy times the other operand, transposed as the forward's flags say
 *   Add Sub Mul Div Pow Max Min PRelu Where
 *                        the elementwise derivative, summed back over the broadcast axes to the operand's shape
 *   activations          from the output (Relu: sign(y); Sigmoid: y (1 - y); Tanh: 1 - y^2; Softmax:
 *                        y (dy - sum(dy y))) or the input (LeakyRelu, Elu, Softplus, HardSigmoid, Clip masks)
 *   shape ops            Reshape/Flatten/Squeeze/Unsqueeze back to the input's shape; Transpose by the inverse
 *                        permutation; Concat by slices; Pad by a slice (reflect: the mirrored entries added back);
 *                        Slice by a pad (strided: the transposed selection); Gather (constant indices) by the transposed selection
 *
 * Non-differentiable operators (Sign, Round, Floor, Ceil, QuantizeLinear, integer Casts, comparisons, Not) stop
 * the gradient under `natural` (their derivative almost everywhere is zero) and pass it straight through under
 * `bpda-identity`, exactly as tfjs-graph.ts documents (a comparison a > b as the identity on a - b; Where passes
 * dy (a - b) to its condition; the clip of QuantizeLinear keeps its true gradient); Equal and ArgMax stay zero.
 *
 * Shapes the rules need (broadcast axes, convolution and pooling geometry, split sizes) come from one run of the
 * tfjs mapping at a small batch (TfjsOnnxGraph.valueShapes); everything that depends on the batch size is read at
 * run time (Shape), so one graph serves any batch.
 *
 * The loss emission and its axes inputs are written for the default-domain opsets 13-17; a model of another
 * opset, or a construct with no rule here (Slice, Gather or Concat over the batch axis, ...), raises
 * BackwardUnsupported, and the classifier takes the tfjs mapping instead (said once).
 */
import { onnx } from 'onnx-proto';
import { GraphBuilder, Dim } from '../engine/onnx-graph';
import { emitLoss } from '../engine/builder';
import type { EngineLossName } from '../engine/loss-spec';
import type { ConstTensor, Layout, OnnxGraphInfo, OnnxNode } from './onnx-file';
import type { ImportGradientMode, ValueShape } from './tfjs-graph';
import { reflectPadMatrix } from './tfjs-graph';

/** Default-domain opsets the backward graph is written for. */
export const BACKWARD_OPSETS = { min: 13, max: 17 } as const;

/** A graph (or a construct in it) this builder has no backward rule for: the caller takes the tfjs mapping. */
export class BackwardUnsupported extends Error {}

export interface ImportedGradRequest {
  mode: ImportGradientMode;
  loss: { name: EngineLossName; targeted: boolean };
  /** Batch dimension of the graph inputs: fixed, or a symbolic name. */
  batch: Dim;
  layout: Layout;
  /** [height, width, channels] of the NHWC pixel input. */
  inputShape: readonly [number, number, number];
  classes: number;
  /** Normalization applied to the pixels before the model (absent: none). */
  mean?: readonly number[];
  std?: readonly number[];
}

export interface ImportedGradSignature {
  x: string;
  labels: string;
  trueLabels?: string;
  logits: string;
  loss: string;
  grad: string;
}

export interface ImportedGradGraph {
  bytes: Uint8Array;
  signature: ImportedGradSignature;
}

/** Why no backward graph can be built for this model (before any shape is known), or null. */
export function backwardSupport(info: OnnxGraphInfo): string | null {
  if (info.opset < BACKWARD_OPSETS.min || info.opset > BACKWARD_OPSETS.max) return `opset ${info.opset} (the ONNX Runtime backward graph is written for opsets ${BACKWARD_OPSETS.min}-${BACKWARD_OPSETS.max})`;
  for (const n of info.nodes) {
    const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'constant';
    if (n.opType === 'Pad' && mode !== 'constant' && mode !== 'reflect') return `Pad mode '${mode}' in node '${n.name}'`;
    if ((n.opType === 'Max' || n.opType === 'Min') && n.inputs.length > 2) return `${n.opType} of ${n.inputs.length} inputs in node '${n.name}'`;
  }
  return null;
}

const BIG = 2 ** 53 - 1;
/** ONNX Cast targets that keep float values (FLOAT, FLOAT16, DOUBLE): the identity for gradients. */
const FLOAT_CASTS = new Set([1, 10, 11]);
/** Zero gradient almost everywhere; straight-through under bpda-identity. */
const STEPS = new Set(['Sign', 'Round', 'Floor', 'Ceil', 'QuantizeLinear', 'Not', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']);
/** No gradient in either mode. */
const NO_GRADIENT = new Set(['Shape', 'Constant', 'ArgMax', 'Equal', 'Size']);

function ints(v: unknown, fallback: number[]): number[] {
  return Array.isArray(v) ? (v as number[]) : fallback;
}
function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}
const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Does a gradient pass node `n` under `mode` (to its first output)? */
function passes(n: OnnxNode, mode: ImportGradientMode): boolean {
  if (NO_GRADIENT.has(n.opType)) return false;
  const step = STEPS.has(n.opType) || (n.opType === 'Cast' && !FLOAT_CASTS.has(num(n.attrs.to, 1)));
  return step ? mode === 'bpda-identity' : true;
}

class Backward {
  constructor(
    private readonly g: GraphBuilder,
    private readonly info: OnnxGraphInfo,
    private readonly shapes: Map<string, ValueShape>,
    /** MaxPool nodes given an Indices output: node name -> indices value. */
    readonly indices: Map<string, string>,
  ) {}

  private op(type: string, inputs: string[], attrs: Record<string, number | number[]> = {}): string {
    return this.g.op(type, inputs, attrs, `d_${type.toLowerCase()}`);
  }
  private i64(values: number[]): string {
    return this.g.int64('d_const', values);
  }
  private s(v: number): string {
    return this.g.scalar(v);
  }
  dims(v: string): number[] {
    const s = this.shapes.get(v);
    if (!s) throw new BackwardUnsupported(`no shape for value '${v}'`);
    return s.dims;
  }
  private hostOf(node: OnnxNode, i: number, what: string): number[] {
    const name = node.inputs[i];
    const c = this.info.constants.get(name);
    if (c) return Array.from(c.data);
    const h = this.shapes.get(name)?.host;
    if (!h) throw new BackwardUnsupported(`${what} of node '${node.name}' computed from tensors`);
    return h;
  }
  private constantOf(node: OnnxNode, i: number, what: string): ConstTensor {
    const c = this.info.constants.get(node.inputs[i]);
    if (!c) throw new BackwardUnsupported(`${what} of node '${node.name}' that is not a constant`);
    return c;
  }
  private reshapeLike(dy: string, v: string): string {
    return this.op('Reshape', [dy, this.op('Shape', [v])]);
  }

  /** dy (of the op's output shape `outDims`) summed over the axes broadcast from `operand`, in its shape. */
  private reduceTo(dy: string, outDims: number[], operand: string): string {
    const od = this.dims(operand);
    if (sameDims(od, outDims)) return dy;
    const lead = outDims.length - od.length;
    const axes = Array.from({ length: Math.max(0, lead) }, (_, i) => i);
    od.forEach((d, i) => {
      if (d === 1 && outDims[lead + i] !== 1) axes.push(lead + i);
    });
    const r = axes.length ? this.op('ReduceSum', [dy, this.i64(axes)], { keepdims: 1 }) : dy;
    return this.reshapeLike(r, operand);
  }

  /** A per-axis constant (quantization scale or zero point) as a float initializer that broadcasts against x. */
  private perAxis(c: ConstTensor, node: OnnxNode, rank: number): string {
    if (c.data.length === 1) return this.g.float('d_q', Float32Array.from([c.data[0]]), []);
    const axis = num(node.attrs.axis, 1);
    const ax = axis < 0 ? axis + rank : axis;
    return this.g.float('d_q', Float32Array.from(c.data), Array.from({ length: rank }, (_, i) => (i === ax ? c.data.length : 1)));
  }

  /**
   * dy contracted along `axis` with the 0/1 matrix m [dy's size there, x's size there]: the adjoint of a forward
   * that picks or repeats entries along one axis (Gather, a reflect Pad), as a MatMul with the axis moved last.
   */
  private contract(dy: string, axis: number, rank: number, m: Float32Array, rows: number, cols: number): string {
    const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis), axis];
    const inv = new Array<number>(rank);
    perm.forEach((p, i) => (inv[p] = i));
    const moved = axis === rank - 1 ? dy : this.op('Transpose', [dy], { perm });
    const r = this.op('MatMul', [moved, this.g.float('d_contract', m, [rows, cols])]);
    return axis === rank - 1 ? r : this.op('Transpose', [r], { perm: inv });
  }

  /** (top, left, bottom, right) pads of a 2-d window op (auto_pad resolved with the known sizes). */
  private pads(node: OnnxNode, inHW: number[], outHW: number[], k: number[], s: number[]): [number, number, number, number] {
    const ap = typeof node.attrs.auto_pad === 'string' ? node.attrs.auto_pad : 'NOTSET';
    if (ap === 'VALID') return [0, 0, 0, 0];
    if (ap === 'SAME_UPPER' || ap === 'SAME_LOWER') {
      const total = [0, 1].map((i) => Math.max(0, (outHW[i] - 1) * s[i] + k[i] - inHW[i]));
      const begin = total.map((t) => (ap === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
      return [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
    }
    const p = ints(node.attrs.pads, [0, 0, 0, 0]);
    return [p[0], p[1], p[2], p[3]];
  }

  /**
   * Scatter-add window values back onto the input grid: `cols` [N*C, K, Ho, Wo] holds, per window offset (K = kh*kw,
   * row-major; K = 1: every offset alike), the value each window sends to that offset. A ConvTranspose with a
   * one-hot (or all-ones) kernel adds them up over the padded grid; the padding is cropped and X's shape restored.
   */
  private col2im(cols: string, oneHot: boolean, k: number[], s: number[], pads: number[], x: string, outHW: number[]): string {
    const [, , H, W] = this.dims(x);
    const [kh, kw] = k;
    const K = oneHot ? kh * kw : 1;
    const wData = new Float32Array(K * kh * kw);
    for (let i = 0; i < K; i++) for (let j = 0; j < kh * kw; j++) wData[i * kh * kw + j] = oneHot ? Number(i === j) : 1;
    const w = this.g.float('d_col2im', wData, [K, 1, kh, kw]);
    let y = this.op('ConvTranspose', [cols, w], { kernel_shape: [kh, kw], strides: s });
    const E = [(outHW[0] - 1) * s[0] + kh, (outHW[1] - 1) * s[1] + kw];
    const [pt, pl] = pads;
    const end = [Math.min(E[0], pt + H), Math.min(E[1], pl + W)];
    y = this.op('Slice', [y, this.i64([pt, pl]), this.i64(end), this.i64([2, 3])]);
    const short = [pt + H - end[0], pl + W - end[1]];
    if (short[0] > 0 || short[1] > 0) y = this.op('Pad', [y, this.i64([0, 0, 0, 0, 0, 0, short[0], short[1]])]);
    return this.reshapeLike(y, x);
  }

  /** Gradient contributions of `node`'s inputs (undefined: none) from dy, the gradient of its first output. */
  backward(node: OnnxNode, dy: string, need: boolean[]): (string | undefined)[] {
    const a = node.attrs;
    const [x, b] = node.inputs;
    const y = node.outputs[0];
    const out: (string | undefined)[] = node.inputs.map(() => undefined);
    const op = this.op.bind(this);
    const zero = this.s(0);
    const one = this.s(1);
    const set = (i: number, f: () => string): void => {
      if (need[i]) out[i] = f();
    };
    switch (node.opType) {
      case 'Identity':
      case 'Dropout':
      case 'Sign':
      case 'Round':
      case 'Floor':
      case 'Ceil':
      case 'Not':
      case 'Cast':
        // Cast to a float type is the identity; the rest reach here only under bpda-identity (straight-through)
        set(0, () => dy);
        break;
      case 'Relu':
        set(0, () => op('Mul', [dy, op('Sign', [y])]));
        break;
      case 'LeakyRelu':
        set(0, () => op('Where', [op('Greater', [x, zero]), dy, op('Mul', [dy, this.s(num(a.alpha, 0.01))])]));
        break;
      case 'Elu':
        set(0, () => op('Where', [op('Greater', [x, zero]), dy, op('Mul', [dy, op('Add', [y, this.s(num(a.alpha, 1))])])]));
        break;
      case 'PRelu':
        set(0, () => this.reduceTo(op('Where', [op('Greater', [x, zero]), dy, op('Mul', [dy, b])]), this.dims(y), x));
        if (need[1]) throw new BackwardUnsupported(`PRelu slope computed from the input in node '${node.name}'`);
        break;
      case 'Sigmoid':
        set(0, () => op('Mul', [dy, op('Mul', [y, op('Sub', [one, y])])]));
        break;
      case 'Tanh':
        set(0, () => op('Mul', [dy, op('Sub', [one, op('Mul', [y, y])])]));
        break;
      case 'Softplus':
        set(0, () => op('Mul', [dy, op('Sigmoid', [x])]));
        break;
      case 'HardSigmoid': {
        const alpha = num(a.alpha, 0.2);
        const v = () => op('Add', [op('Mul', [x, this.s(alpha)]), this.s(num(a.beta, 0.5))]);
        set(0, () => {
          const t = v();
          const inside = op('And', [op('Not', [op('Less', [t, zero])]), op('Not', [op('Greater', [t, one])])]);
          return op('Mul', [op('Where', [inside, dy, zero]), this.s(alpha)]);
        });
        break;
      }
      case 'Clip':
        set(0, () => {
          const conds: string[] = [];
          if (node.inputs[1]) conds.push(op('Not', [op('Less', [x, node.inputs[1]])]));
          if (node.inputs[2]) conds.push(op('Not', [op('Greater', [x, node.inputs[2]])]));
          if (!conds.length) return dy;
          return op('Where', [conds.length === 2 ? op('And', conds) : conds[0], dy, zero]);
        });
        break;
      case 'Neg':
        set(0, () => op('Neg', [dy]));
        break;
      case 'Abs':
        set(0, () => op('Mul', [dy, op('Sign', [x])]));
        break;
      case 'Exp':
        set(0, () => op('Mul', [dy, y]));
        break;
      case 'Log':
        set(0, () => op('Div', [dy, x]));
        break;
      case 'Sqrt':
        set(0, () => op('Div', [op('Mul', [dy, this.s(0.5)]), y]));
        break;
      case 'Reciprocal':
        set(0, () => op('Neg', [op('Mul', [dy, op('Mul', [y, y])])]));
        break;
      case 'Add':
      case 'Sub': {
        const od = this.dims(y);
        set(0, () => this.reduceTo(dy, od, x));
        set(1, () => this.reduceTo(node.opType === 'Sub' ? op('Neg', [dy]) : dy, od, b));
        break;
      }
      case 'Mul': {
        const od = this.dims(y);
        set(0, () => this.reduceTo(op('Mul', [dy, b]), od, x));
        set(1, () => this.reduceTo(op('Mul', [dy, x]), od, b));
        break;
      }
      case 'Div': {
        const od = this.dims(y);
        set(0, () => this.reduceTo(op('Div', [dy, b]), od, x));
        set(1, () => this.reduceTo(op('Neg', [op('Div', [op('Mul', [dy, y]), b])]), od, b));
        break;
      }
      case 'Pow': {
        const od = this.dims(y);
        const bc = this.info.constants.get(b);
        const expo = bc && bc.integer ? this.g.float('d_pow_exp', Float32Array.from(bc.data), bc.dims) : b;
        set(0, () => this.reduceTo(op('Mul', [dy, op('Mul', [expo, op('Pow', [x, op('Sub', [expo, one])])])]), od, x));
        set(1, () => this.reduceTo(op('Mul', [dy, op('Where', [op('Greater', [x, zero]), op('Mul', [y, op('Log', [x])]), zero])]), od, b));
        break;
      }
      case 'Max':
      case 'Min': {
        if (node.inputs.length === 1) {
          set(0, () => dy);
          break;
        }
        const od = this.dims(y);
        // tfjs: maximum passes dy to a where a >= b, to b where a < b (minimum: a <= b, a > b)
        const firstWins = node.opType === 'Max' ? op('Not', [op('Less', [x, b])]) : op('Not', [op('Greater', [x, b])]);
        set(0, () => this.reduceTo(op('Where', [firstWins, dy, zero]), od, x));
        set(1, () => this.reduceTo(op('Where', [firstWins, zero, dy]), od, b));
        break;
      }
      case 'Where': {
        const [c, p, q] = node.inputs;
        const od = this.dims(y);
        set(0, () => this.reduceTo(op('Mul', [dy, op('Sub', [p, q])]), od, c));
        set(1, () => this.reduceTo(op('Where', [c, dy, zero]), od, p));
        set(2, () => this.reduceTo(op('Where', [c, zero, dy]), od, q));
        break;
      }
      case 'Greater':
      case 'GreaterOrEqual':
      case 'Less':
      case 'LessOrEqual': {
        // bpda-identity only: as the identity on a - b (Greater) or b - a (Less)
        const od = this.dims(y);
        const up = node.opType.startsWith('Greater');
        set(0, () => this.reduceTo(up ? dy : op('Neg', [dy]), od, x));
        set(1, () => this.reduceTo(up ? op('Neg', [dy]) : dy, od, b));
        break;
      }
      case 'QuantizeLinear': {
        // bpda-identity only: straight through the rounding, the true gradient of the saturation
        const rank = this.dims(x).length;
        const scale = this.perAxis(this.constantOf(node, 1, 'QuantizeLinear scale'), node, rank);
        const zpC = node.inputs[2] ? this.constantOf(node, 2, 'QuantizeLinear zero point') : null;
        const [lo, hi] = zpC?.elem === 'INT8' ? [-128, 127] : [0, 255];
        set(0, () => {
          let pre = op('Round', [op('Div', [x, scale])]);
          if (zpC) pre = op('Add', [pre, this.perAxis(zpC, node, rank)]);
          const inside = op('And', [op('Not', [op('Less', [pre, this.s(lo)])]), op('Not', [op('Greater', [pre, this.s(hi)])])]);
          return op('Div', [op('Where', [inside, dy, zero]), scale]);
        });
        break;
      }
      case 'DequantizeLinear': {
        const scale = this.perAxis(this.constantOf(node, 1, 'DequantizeLinear scale'), node, this.dims(x).length);
        set(0, () => op('Mul', [dy, scale]));
        break;
      }
      case 'BatchNormalization': {
        const [scale, , , variance] = [1, 2, 3, 4].map((i) => this.constantOf(node, i, 'BatchNormalization parameter').data);
        const eps = num(a.epsilon, 1e-5);
        const rank = this.dims(x).length;
        const k = Float32Array.from(scale, (v, c) => v / Math.sqrt(variance[c] + eps));
        set(0, () => op('Mul', [dy, this.g.float('d_bn', k, [1, k.length, ...new Array<number>(Math.max(0, rank - 2)).fill(1)])]));
        break;
      }
      case 'Conv': {
        const w = this.constantOf(node, 1, 'Conv weight');
        const [co, ipg, kh, kw] = w.dims;
        const group = num(a.group, 1);
        const [, , H, W] = this.dims(x);
        const [, , Ho, Wo] = this.dims(y);
        const s = ints(a.strides, [1, 1]);
        const [pt, pl, pb, pr] = this.pads(node, [H, W], [Ho, Wo], [kh, kw], s);
        set(0, () => {
          if (group === 1 && s[0] === 1 && s[1] === 1 && Math.max(pt, pb) <= kh - 1 && Math.max(pl, pr) <= kw - 1) {
            // the adjoint of a stride-1 convolution is a convolution with the flipped kernel, channels swapped
            const f = new Float32Array(w.data.length);
            for (let o = 0; o < co; o++)
              for (let i = 0; i < ipg; i++)
                for (let p = 0; p < kh; p++)
                  for (let q = 0; q < kw; q++) f[((i * co + o) * kh + (kh - 1 - p)) * kw + (kw - 1 - q)] = w.data[((o * ipg + i) * kh + p) * kw + q];
            const wf = this.g.float(`d_flip_${node.name}`, f, [ipg, co, kh, kw]);
            return op('Conv', [dy, wf], { kernel_shape: [kh, kw], pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr] });
          }
          const outPad = [H - ((Ho - 1) * s[0] + kh - pt - pb), W - ((Wo - 1) * s[1] + kw - pl - pr)];
          if (outPad.some((p) => p < 0 || p >= Math.max(...s))) throw new BackwardUnsupported(`Conv geometry of node '${node.name}'`);
          return op('ConvTranspose', [dy, node.inputs[1]], { kernel_shape: [kh, kw], strides: s, pads: [pt, pl, pb, pr], group, output_padding: outPad });
        });
        if (need[1] || need[2]) throw new BackwardUnsupported(`Conv weights computed from the input in node '${node.name}'`);
        break;
      }
      case 'ConvTranspose': {
        const w = this.constantOf(node, 1, 'ConvTranspose weight');
        const [, , kh, kw] = w.dims;
        const s = ints(a.strides, [1, 1]);
        const p = ints(a.pads, [0, 0, 0, 0]);
        if (typeof a.auto_pad === 'string' && a.auto_pad !== 'NOTSET') throw new BackwardUnsupported(`ConvTranspose auto_pad in node '${node.name}'`);
        set(0, () => op('Conv', [dy, node.inputs[1]], { kernel_shape: [kh, kw], strides: s, pads: p, group: num(a.group, 1) }));
        break;
      }
      case 'MaxPool': {
        const k = ints(a.kernel_shape, []);
        const s = ints(a.strides, [1, 1]);
        const [, , H, W] = this.dims(x);
        const [, , Ho, Wo] = this.dims(y);
        const pads = this.pads(node, [H, W], [Ho, Wo], k, s);
        set(0, () => {
          if (k[0] <= s[0] && k[1] <= s[1]) {
            // windows do not overlap: each input position gets at most one window's dy
            const idx = this.g.name(`${y}_indices`);
            this.indices.set(node.name, idx);
            return op('MaxUnpool', [dy, idx, op('Shape', [x])], { kernel_shape: k, strides: s });
          }
          const extent = [(Ho - 1) * s[0] + k[0], (Wo - 1) * s[1] + k[1]];
          const endPad = [Math.max(0, extent[0] - H - pads[0]), Math.max(0, extent[1] - W - pads[1])];
          const xp = op('Pad', [x, this.i64([0, 0, pads[0], pads[1], 0, 0, endPad[0], endPad[1]]), this.s(-3.4e38)]);
          const cols: string[] = [];
          let found: string | null = null;
          const colShape = this.i64([-1, 1, Ho, Wo]);
          for (let p = 0; p < k[0]; p++)
            for (let q = 0; q < k[1]; q++) {
              const win = op('Slice', [xp, this.i64([p, q]), this.i64([p + (Ho - 1) * s[0] + 1, q + (Wo - 1) * s[1] + 1]), this.i64([2, 3]), this.i64(s)]);
              const eq = op('Cast', [op('Equal', [win, y])], { to: 1 });
              const take: string = found ? op('Mul', [eq, op('Sub', [one, found])]) : eq;
              found = found ? op('Add', [found, take]) : take;
              cols.push(op('Reshape', [op('Mul', [dy, take]), colShape]));
            }
          return this.col2im(op('Concat', cols, { axis: 1 }), true, k, s, pads, x, [Ho, Wo]);
        });
        break;
      }
      case 'AveragePool': {
        const k = ints(a.kernel_shape, []);
        const s = ints(a.strides, [1, 1]);
        const [, , H, W] = this.dims(x);
        const [, , Ho, Wo] = this.dims(y);
        const pads = this.pads(node, [H, W], [Ho, Wo], k, s);
        const include = num(a.count_include_pad, 0) === 1;
        set(0, () => {
          let scaled: string;
          if (include || pads.every((p) => p === 0)) scaled = op('Mul', [dy, this.s(1 / (k[0] * k[1]))]);
          else {
            const count = new Float32Array(Ho * Wo);
            const inside = (start: number, size: number, kk: number): number => Math.min(size, start + kk) - Math.max(0, start);
            for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) count[i * Wo + j] = 1 / (inside(i * s[0] - pads[0], H, k[0]) * inside(j * s[1] - pads[1], W, k[1]));
            scaled = op('Mul', [dy, this.g.float('d_avg_count', count, [1, 1, Ho, Wo])]);
          }
          return this.col2im(op('Reshape', [scaled, this.i64([-1, 1, Ho, Wo])]), false, k, s, pads, x, [Ho, Wo]);
        });
        break;
      }
      case 'GlobalAveragePool': {
        const d = this.dims(x);
        const area = d.slice(2).reduce((p, q) => p * q, 1);
        set(0, () => op('Expand', [op('Mul', [dy, this.s(1 / area)]), op('Shape', [x])]));
        break;
      }
      case 'GlobalMaxPool':
        set(0, () => op('Mul', [op('Expand', [dy, op('Shape', [x])]), op('Cast', [op('Equal', [x, y])], { to: 1 })]));
        break;
      case 'ReduceMean':
      case 'ReduceSum': {
        const rank = this.dims(x).length;
        const fromInput = node.opType === 'ReduceSum';
        const given = fromInput ? (node.inputs[1] ? this.hostOf(node, 1, 'axes') : []) : ints(a.axes, []);
        if (given.length === 0 && fromInput && num(a.noop_with_empty_axes, 0) === 1) {
          set(0, () => dy);
          break;
        }
        const axes = (given.length ? given : Array.from({ length: rank }, (_, i) => i)).map((v) => (v < 0 ? v + rank : v)).sort((p, q) => p - q);
        set(0, () => {
          const kept = num(a.keepdims, 1) === 1 ? dy : op('Unsqueeze', [dy, this.i64(axes)]);
          const spread = op('Expand', [kept, op('Shape', [x])]);
          if (node.opType === 'ReduceSum') return spread;
          // the mean's count: the input's size over the output's (read at run time: it may include the batch)
          const count = op('Div', [op('Cast', [op('Size', [x])], { to: 1 }), op('Cast', [op('Size', [y])], { to: 1 })]);
          return op('Div', [spread, count]);
        });
        break;
      }
      case 'Gemm': {
        const ta = num(a.transA, 0);
        const tb = num(a.transB, 0);
        const alpha = num(a.alpha, 1);
        const scaled = (v: string): string => (alpha === 1 ? v : op('Mul', [v, this.s(alpha)]));
        set(0, () => scaled(ta ? op('Gemm', [b, dy], { transA: tb, transB: 1 }) : op('Gemm', [dy, b], { transB: 1 - tb })));
        set(1, () => scaled(tb ? op('Gemm', [dy, x], { transA: 1, transB: ta }) : op('Gemm', [x, dy], { transA: 1 - ta })));
        set(2, () => {
          const beta = num(a.beta, 1);
          return this.reduceTo(beta === 1 ? dy : op('Mul', [dy, this.s(beta)]), this.dims(y), node.inputs[2]);
        });
        break;
      }
      case 'MatMul': {
        const od = this.dims(y);
        const swap = (v: string): string => {
          const r = this.dims(v).length;
          return op('Transpose', [v], { perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2] });
        };
        set(0, () => this.reduceTo(op('MatMul', [dy, swap(b)]), [...od.slice(0, -1), this.dims(b)[this.dims(b).length - 2]], x));
        set(1, () => this.reduceTo(op('MatMul', [swap(x), dy]), [...od.slice(0, -2), this.dims(x)[this.dims(x).length - 1], od[od.length - 1]], b));
        break;
      }
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze':
        set(0, () => this.reshapeLike(dy, x));
        break;
      case 'Transpose': {
        const rank = this.dims(x).length;
        const perm = ints(a.perm, Array.from({ length: rank }, (_, i) => rank - 1 - i));
        const inv = new Array<number>(rank);
        perm.forEach((p, i) => (inv[p] = i));
        set(0, () => op('Transpose', [dy], { perm: inv }));
        break;
      }
      case 'Concat': {
        const rank = this.dims(node.inputs[0]).length;
        const axis = num(a.axis, 0) < 0 ? num(a.axis, 0) + rank : num(a.axis, 0);
        if (axis === 0 && need.some((n) => n)) throw new BackwardUnsupported(`Concat over the batch axis in node '${node.name}'`);
        let offset = 0;
        node.inputs.forEach((v, i) => {
          const size = this.dims(v)[axis];
          const start = offset;
          set(i, () => op('Slice', [dy, this.i64([start]), this.i64([start + size]), this.i64([axis])]));
          offset += size;
        });
        break;
      }
      case 'Pad': {
        const pads = this.hostOf(node, 1, 'Pad pads');
        const rank = pads.length / 2;
        if (a.mode === 'reflect') {
          // each padded axis: output o reads input |o - before| mirrored at the ends (no edge repeated)
          const d = this.dims(x);
          set(0, () => {
            let g = dy;
            for (let ax = 0; ax < rank; ax++) {
              const [p0, p1] = [pads[ax], pads[ax + rank]];
              if (p0 === 0 && p1 === 0) continue;
              if (ax === 0) throw new BackwardUnsupported(`reflect Pad over the batch axis in node '${node.name}'`);
              const n = d[ax];
              g = this.contract(g, ax, rank, reflectPadMatrix(n, p0, p1), n + p0 + p1, n);
            }
            return g;
          });
          break;
        }
        set(0, () =>
          op('Slice', [
            dy,
            this.i64(pads.slice(0, rank)),
            this.i64(pads.slice(rank).map((p) => (p > 0 ? -p : BIG))),
            this.i64(Array.from({ length: rank }, (_, i) => i)),
          ]),
        );
        break;
      }
      case 'Slice': {
        const d = this.dims(x);
        const starts = this.hostOf(node, 1, 'Slice starts');
        const ends = this.hostOf(node, 2, 'Slice ends');
        const axes = node.inputs[3] ? this.hostOf(node, 3, 'Slice axes') : starts.map((_, i) => i);
        const steps = node.inputs[4] ? this.hostOf(node, 4, 'Slice steps') : starts.map(() => 1);
        if (steps.some((v) => v !== 1)) {
          // strided: each sliced axis a selection of every step-th entry from its start
          set(0, () => {
            let g = dy;
            axes.forEach((ax0, i) => {
              const ax = ax0 < 0 ? ax0 + d.length : ax0;
              if (ax === 0) throw new BackwardUnsupported(`Slice over the batch axis in node '${node.name}'`);
              const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + d[ax] : v, 0), d[ax]);
              const picked: number[] = [];
              for (let j = clamp(starts[i]); j < clamp(ends[i]); j += steps[i]) picked.push(j);
              const m = new Float32Array(picked.length * d[ax]);
              picked.forEach((j, r) => (m[r * d[ax] + j] = 1));
              g = this.contract(g, ax, d.length, m, picked.length, d[ax]);
            });
            return g;
          });
          break;
        }
        const before = d.map(() => 0);
        const after = d.map(() => 0);
        axes.forEach((ax0, i) => {
          const ax = ax0 < 0 ? ax0 + d.length : ax0;
          const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + d[ax] : v, 0), d[ax]);
          before[ax] = clamp(starts[i]);
          after[ax] = d[ax] - Math.max(clamp(ends[i]), before[ax]);
          if (ax === 0 && (before[0] !== 0 || after[0] !== 0)) throw new BackwardUnsupported(`Slice over the batch axis in node '${node.name}'`);
        });
        set(0, () => op('Pad', [dy, this.i64([...before, ...after])]));
        break;
      }
      case 'Gather': {
        const d = this.dims(x);
        const rank = d.length;
        const axis = num(a.axis, 0) < 0 ? num(a.axis, 0) + rank : num(a.axis, 0);
        const idxShape = this.shapes.get(node.inputs[1])?.dims ?? this.info.constants.get(node.inputs[1])?.dims ?? [];
        if (axis === 0 || idxShape.length > 1) throw new BackwardUnsupported(`Gather over the batch axis or with multi-dimensional indices in node '${node.name}'`);
        const idx = this.hostOf(node, 1, 'Gather indices').map((i) => (i < 0 ? i + d[axis] : i));
        set(0, () => {
          const m = new Float32Array(idx.length * d[axis]);
          idx.forEach((i, j) => (m[j * d[axis] + i] = 1));
          const dyFull = idxShape.length === 0 ? op('Unsqueeze', [dy, this.i64([axis])]) : dy;
          return this.contract(dyFull, axis, rank, m, idx.length, d[axis]);
        });
        break;
      }
      case 'Softmax':
      case 'LogSoftmax': {
        const rank = this.dims(x).length;
        const axis = num(a.axis, -1) < 0 ? num(a.axis, -1) + rank : num(a.axis, -1);
        const ax = this.i64([axis]);
        set(0, () =>
          node.opType === 'Softmax'
            ? op('Mul', [y, op('Sub', [dy, op('ReduceSum', [op('Mul', [dy, y]), ax], { keepdims: 1 })])])
            : op('Sub', [dy, op('Mul', [op('Exp', [y]), op('ReduceSum', [dy, ax], { keepdims: 1 })])]),
        );
        break;
      }
      default:
        throw new BackwardUnsupported(`no backward rule for ${node.opType} (node '${node.name}')`);
    }
    return out;
  }
}

/**
 * Build the logits + loss + input-gradient graph of an imported model (see the module comment). `model` is the
 * decoded file, `info` what onnx-file.ts read from it, `shapes` the value shapes of TfjsOnnxGraph.valueShapes.
 */
export function buildImportedGradGraph(model: onnx.IModelProto, info: OnnxGraphInfo, shapes: Map<string, ValueShape>, req: ImportedGradRequest): ImportedGradGraph {
  const why = backwardSupport(info);
  if (why) throw new BackwardUnsupported(why);
  const orig = model.graph!;
  const g = new GraphBuilder();
  // every name of the model is taken: the builder's own names never collide with them
  const taken = new Set<string>();
  const take = (n: string | null | undefined): void => {
    if (n && !taken.has(n)) {
      taken.add(n);
      g.name(n);
    }
  };
  for (const n of orig.node ?? []) {
    (n.input ?? []).forEach(take);
    (n.output ?? []).forEach(take);
    take(n.name);
  }
  for (const t of orig.initializer ?? []) take(t.name);
  for (const v of [...(orig.input ?? []), ...(orig.output ?? [])]) take(v.name);

  // ---- prologue: NHWC pixels -> normalization -> the graph's layout ----
  const N = req.batch;
  const [H, W, C] = req.inputShape;
  const x = g.input('x', [N, H, W, C]);
  let feed = x;
  let prologue = 0;
  const perChannel = (base: string, v: readonly number[]): string => g.float(base, Float32Array.from(v), [C]);
  if (req.mean && req.std) {
    feed = g.op('Div', [g.op('Sub', [feed, perChannel('norm_mean', req.mean)]), perChannel('norm_std', req.std)], {}, 'normalized');
    prologue += 2;
  }
  if (req.layout === 'nchw') {
    feed = g.op('Transpose', [feed], { perm: [0, 3, 1, 2] }, 'x_nchw');
    prologue += 1;
  }
  const rename = (v: string): string => (v === info.input.name ? feed : v);
  const nodes: OnnxNode[] = info.nodes.map((n) => ({ ...n, inputs: n.inputs.map(rename) }));
  const shapeMap = new Map(shapes);
  shapeMap.set(feed, shapes.get(info.input.name)!);

  // ---- which values the gradient flows through ----
  const live = new Set<string>([feed]);
  for (const n of nodes) {
    if (!passes(n, req.mode)) continue;
    if (n.inputs.some((v) => v !== '' && live.has(v) && !shapeMap.get(v)?.host)) {
      if (n.outputs[0] && !shapeMap.get(n.outputs[0])?.host) live.add(n.outputs[0]);
    }
  }

  // ---- logits and loss ----
  const K = req.classes;
  const zOut = info.output.name;
  const zDims = shapeMap.get(zOut)?.dims ?? [];
  const z = zDims.length === 2 ? zOut : g.op('Reshape', [zOut, g.int64('logits_shape', [-1, K])], {}, 'logits_2d');
  const sig: Partial<ImportedGradSignature> = { x };
  sig.logits = g.output(z, 'logits', [N, K]);
  sig.labels = g.input('labels', [N, 1]);
  if (req.loss.name === 'dlr' && req.loss.targeted) sig.trueLabels = g.input('true_labels', [N, 1]);
  const { loss, dlogits } = emitLoss(g, req.loss.name, req.loss.targeted, z, sig.labels, sig.trueLabels, K);
  sig.loss = g.output(loss, 'loss', [N]);

  // ---- reverse pass ----
  const bw = new Backward(g, info, shapeMap, new Map());
  const grads = new Map<string, string[]>();
  const add = (v: string, d: string): void => {
    const list = grads.get(v);
    if (list) list.push(d);
    else grads.set(v, [d]);
  };
  const total = (v: string): string | undefined => {
    const list = grads.get(v);
    if (!list) return undefined;
    return list.length === 1 ? list[0] : g.op('Sum', list, {}, 'd_sum');
  };
  if (live.has(zOut)) add(zOut, z === zOut ? dlogits : g.op('Reshape', [dlogits, g.op('Shape', [zOut])]));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const dy = n.outputs[0] && live.has(n.outputs[0]) ? total(n.outputs[0]) : undefined;
    if (!dy) continue;
    const need = n.inputs.map((v) => v !== '' && live.has(v));
    const contributions = bw.backward(n, dy, need);
    contributions.forEach((d, j) => {
      if (d && need[j]) add(n.inputs[j], d);
    });
  }
  let dx = total(feed);
  if (dx === undefined) dx = g.op('Mul', [x, g.scalar(0)], {}, 'zero_grad');
  else {
    if (req.layout === 'nchw') dx = g.op('Transpose', [dx], { perm: [0, 2, 3, 1] }, 'grad_nhwc');
    if (req.mean && req.std) dx = g.op('Div', [dx, perChannel('norm_std_b', req.std)]);
  }
  sig.grad = g.output(dx, 'grad', [N, H, W, C]);

  // ---- one model: prologue, the model's own nodes, then everything else the builder wrote ----
  const built = onnx.ModelProto.decode(g.serialize('imported-grad'));
  const own = (orig.node ?? []).map((n) => {
    const copy = onnx.NodeProto.create({ ...n, input: (n.input ?? []).map(rename), output: [...(n.output ?? [])] });
    const idx = bw.indices.get(n.name || `#${(orig.node ?? []).indexOf(n)}`);
    if (idx) copy.output = [copy.output[0], idx];
    return copy;
  });
  const bnodes = built.graph!.node ?? [];
  const merged = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    producerName: 'opulab',
    graph: {
      name: 'imported-grad',
      node: [...bnodes.slice(0, prologue), ...own, ...bnodes.slice(prologue)],
      initializer: [...(orig.initializer ?? []), ...(built.graph!.initializer ?? [])],
      input: built.graph!.input,
      output: built.graph!.output,
    },
  });
  return { bytes: onnx.ModelProto.encode(merged).finish(), signature: sig as ImportedGradSignature };
}
