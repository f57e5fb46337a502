/**
 * ONNX graphs of an opulab network, built from its description (describe.ts) and weights (weights.ts):
 *
 *  - logits: x (NHWC pixels in [0,1]) -> normalization -> features -> head -> logits, eval mode.
 *  - grad:   the same forward, a per-example attack loss (CE, CW margin, DLR; untargeted or targeted) and an
 *            explicit backward pass to the input under a gradient path (the surrogates of src/models/classifier.ts).
 *
 * Inside, activations are NCHW (ONNX Runtime's fast convolution layout); input and gradient stay NHWC. 3x3
 * convolutions on small maps with many channels run on the batch laid side by side as one image (rowConv,
 * batchRows), where ONNX Runtime's blocked convolution is several times faster than on the batch of tiny maps.
 * Backward rules (each the exact derivative of its forward, or the surrogate the gradient path names):
 *   conv 3x3 + bias + ReLU   ReLU mask (dy * 1[y > 0], see reluMask), then the transposed convolution with the same
 *                            weights: for stride 1 a plain Conv with the flipped, channel-swapped kernel; for
 *                            stride 2 a ConvTranspose (output padding to the input size)
 *   max-pool 2x2             dy routed to each window's first maximum: the forward MaxPool's indices and a
 *                            MaxUnpool; the ReLU mask of the convolution below is applied to the pooled dy
 *                            (the window's maximum is the value at its index, so its sign is the mask there)
 *   global average pool      the gradient spread evenly over H x W
 *   dense (+ ReLU)           ReLU mask, then dy W^T (Gemm with transB)
 *   DFA feedback point       the upstream gradient is replaced by e B[:, :size], e = dL/dlogits (src/models/dfa.ts)
 *   Sign(x - c)              zero / straight-through / tanh(beta z) surrogate, then the centering's adjoint
 *   OPU + camera             camera: its affine part (scale, mean subtraction); matrix: none (zero), random
 *                            (g B^T), true (2 (g * (pA)) A^T over the real parts A of the matrix), estimated
 *                            (the same through the system-identification factors); noise and rounding ignored
 *                            (src/optics/opu.ts, src/optics/camera.ts)
 * Camera noise is a graph input (the caller draws it from the camera's seeded stream, so both engines see the
 * same noise).
 *
 * EOT in one graph (request `eot` = k > 1): against a noisy camera an attack averages the loss and gradient over
 * k noise draws (attacks/eot.ts). Everything below the camera (features, sign, the OPU's field and intensity) is
 * deterministic, so the graph computes it once, tiles the intensity k times (rows copy-major: row s*N + i is
 * copy s of example i, the order of k successive noise draws), runs the camera and head on the kN rows, averages
 * the k losses of each example, and sums the k cotangents back into N rows before the OPU's backward (every
 * backward rule below the camera is linear in its dy and depends only on the deterministic forward). The result
 * is the mean of k separate gradients, at the cost of one backbone pass instead of k.
 */
import type { GradientPath } from '../models/network';
import { BN_EPSILON } from '../models/layers';
import { Camera } from '../optics/camera';
import { GraphBuilder, Dim } from './onnx-graph';
import type { FeatureStageDesc, HeadStageDesc, ModelDescription } from './describe';
import type { GraphWeights } from './weights';
import type { EngineLossName } from './loss-spec';

/** Below any logit: excluded entries of a max (the value attacks/losses.ts uses). */
const EXCLUDED = -1e30;

export type GraphRequest =
  | { kind: 'logits' }
  | {
      kind: 'grad';
      path: GradientPath;
      loss: { name: EngineLossName; targeted: boolean };
      /**
       * EOT camera draws per example (default 1): the camera readout and the head above it run on `eot` copies
       * of every example, each with its own noise rows, and the loss and gradient are the means over the copies
       * (see emitOpu). Only for a model whose camera is noisy.
       */
      eot?: number;
    };

export interface GraphOptions {
  /** Fixed batch size, or a symbolic name for a dynamic batch (default 'N'). */
  batch?: number | string;
  /** Input normalization inside the graph (default true). */
  normalize?: boolean;
  /** Metadata properties of the model (a function of the built signature, e.g. for input descriptions). */
  metadata?: (signature: GraphSignature) => Record<string, string>;
  producerVersion?: string;
  /**
   * Small-map convolutions on the batch laid side by side (rowConv): 'auto' (default) where batchRows says it
   * pays and the batch is not a single image, 'always' for every 3x3 stride-1 convolution, 'never'.
   */
  rowLayout?: 'auto' | 'always' | 'never';
  /**
   * 3x3 stride-1 convolutions (forward and input backward) as Winograd F(2x2,3x3) (winogradConv): 'auto'
   * (default) where winogradPays says it pays, 'always' for every one on an even map size, 'never'. Where it is
   * used it replaces the row layout.
   */
  winograd?: 'auto' | 'always' | 'never';
  /**
   * 3x3 stride-1 convolutions on 2x2 maps as one dense Gemm (denseMatrix2x2): 'auto' (default) where
   * dense2x2Pays says it pays (before Winograd and the row layout), 'always' on every 2x2 map (after a
   * winograd 'always'), 'never'.
   */
  dense2x2?: 'auto' | 'always' | 'never';
}

/** Names of the graph's inputs and outputs (only those present are set). */
export interface GraphSignature {
  x: string;
  labels?: string;
  trueLabels?: string;
  /** Standard-normal camera noise (src/optics/camera.ts: shot and read noise in one draw). */
  cameraNoise?: string;
  logits: string;
  loss?: string;
  grad?: string;
  /** Columns of the camera noise inputs (OPU outputs). */
  noiseWidth?: number;
}

export interface BuiltGraph {
  bytes: Uint8Array;
  signature: GraphSignature;
  /** Floats held as weights. */
  parameters: number;
  /** Multiply-adds of one example's forward pass (convolutions and matrix products). */
  forwardMacs: number;
}

/**
 * A recorded forward stage: its backward (null result = zero gradient) and an optional DFA point on its output.
 * `masked`: the incoming dy already carries this stage's ReLU mask (set by the stage above, `masksBelow`).
 */
interface Recorded {
  backward: (dy: string, masked: boolean) => string | null;
  /** This stage's backward applies the ReLU mask of the stage below it. */
  masksBelow?: boolean;
  feedback?: { size: number; /** NCHW dims of the output for conv stages, or null for [N, size] */ nchw: [number, number, number] | null };
}

/** FLT_MAX, the largest finite float32: `STEP_GAIN * y` is >= 1 for every normal positive y. */
const STEP_GAIN = 3.4028234e38;

/**
 * The ReLU mask 1[y > 0] of a ReLU output y (y >= 0), exactly, as two HardSigmoids max(0, min(1, big * v)):
 * the first maps 0 to 0 and every positive y (denormals included: big * 1.4e-45 = 4.8e-7) into [4.8e-7, 1],
 * the second maps that to exactly 1. Unlike Sign, HardSigmoid is an elementwise op ONNX Runtime's blocked-layout
 * (NCHWc) optimizer keeps in the blocked layout, and so is the Mul with the gradient: the backward convolutions
 * run back to back without layout reorders in between.
 */
function reluMask(g: GraphBuilder, y: string, base: string): string {
  const attrs = { alpha: { float: STEP_GAIN }, beta: { float: 0 } };
  return g.op('HardSigmoid', [g.op('HardSigmoid', [y], attrs)], attrs, base);
}

/**
 * Whether a 3x3 stride-1 convolution on an hw x hw map with `cin` input channels runs in the batch-as-rows layout
 * (rowConv). Measured on ONNX Runtime's blocked (NCHWc) convolution, one thread, batch 64, CPU time per batch,
 * plain -> rows: 512 channels at 2x2 275 -> 51 ms, at 4x4 358 -> 217 ms; 256 channels at 2x2 22 -> 13 ms; no gain
 * for 256 channels at 4x4 or 8x8, 128 at 2x2 only 5 -> 4 ms (not worth the layout changes around it), 512 at 8x8
 * 10%. Per image the kernel walks the output one row at a time and streams the filter once per row: on a 2- or
 * 4-pixel row, with a filter larger than the core's cache, that is most of its time.
 */
export function batchRows(hw: number, cin: number): boolean {
  return (hw <= 2 && cin >= 256) || (hw <= 4 && cin >= 512);
}

/**
 * A 3x3 convolution (pad 1, stride 1; + bias, + ReLU) of an NCHW batch computed on the batch laid side by side as
 * one image: [N, C, h, w] -> pad one zero column on the right -> [1, C, h, N (w + 1)]. The zero column between
 * two images is the right padding of one and the left padding of the next, and the image's own top and bottom
 * padding is the convolution's, so every output pixel of an image sees exactly the values (and zeros) it sees
 * in the batch layout; the separator columns' outputs are dropped on the way back. The rows are N (w + 1) wide
 * instead of w, so the blocked convolution streams each filter once per long row (see batchRows).
 */
function rowConv(
  g: GraphBuilder,
  input: string,
  w: string,
  b: string | null,
  relu: boolean,
  shape: { cin: number; cout: number; hw: number; batch: Dim },
  base: string,
): string {
  const { cin, cout, hw } = shape;
  const n = typeof shape.batch === 'number' ? shape.batch : -1;
  const padded = g.op('Pad', [input, g.int64(`${base}_rows_pad`, [0, 0, 0, 0, 0, 0, 0, 1])]);
  const rows = g.op('Reshape', [g.op('Transpose', [padded], { perm: [1, 2, 0, 3] }), g.int64(`${base}_rows_in`, [1, cin, hw, -1])], {}, `${base}_rows`);
  let out = g.op('Conv', b ? [rows, w, b] : [rows, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, `${base}_rows_z`);
  if (relu) out = g.op('Relu', [out]);
  const back = g.op('Transpose', [g.op('Reshape', [out, g.int64(`${base}_rows_out`, [cout, hw, n, hw + 1])])], { perm: [2, 0, 1, 3] });
  return g.op('Slice', [back, g.int64(`${base}_rows_s0`, [0]), g.int64(`${base}_rows_s1`, [hw]), g.int64(`${base}_rows_ax`, [3])], {}, base);
}

/** Winograd F(2x2,3x3) matrices (Lavin & Gray 2016): Y = A^T [(G g G^T) * (B^T d B)] A. */
const WINO_BT = [
  [1, 0, -1, 0],
  [0, 1, 1, 0],
  [0, -1, 1, 0],
  [0, 1, 0, -1],
];
const WINO_G = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];
const WINO_AT = [
  [1, 1, 1, 0],
  [0, 1, -1, -1],
];

/**
 * The input transform of all the tiles of an hw x hw map (hw even, pad 1) as one matrix [16 T, hw^2] (T =
 * (hw/2)^2 tiles): row 16-component-major, (4a + b) T + t for the tile t = ty (hw/2) + tx, column y hw + x,
 * entry BT[a][y - 2ty + 1] BT[b][x - 2tx + 1] (0 outside the 4x4 window: the padding is zero).
 */
function winogradInputMatrix(hw: number): Float32Array {
  const h2 = hw / 2;
  const t = h2 * h2;
  const k = new Float32Array(16 * t * hw * hw);
  for (let a = 0; a < 4; a++)
    for (let b = 0; b < 4; b++)
      for (let ty = 0; ty < h2; ty++)
        for (let tx = 0; tx < h2; tx++)
          for (let i = 0; i < 4; i++)
            for (let j = 0; j < 4; j++) {
              const y = 2 * ty - 1 + i;
              const x = 2 * tx - 1 + j;
              if (y < 0 || y >= hw || x < 0 || x >= hw) continue;
              k[((a * 4 + b) * t + ty * h2 + tx) * hw * hw + y * hw + x] = WINO_BT[a][i] * WINO_BT[b][j];
            }
  return k;
}

/** The output transform of all the tiles as one matrix [hw^2, 16 T]: row y hw + x (y = 2ty + p, x = 2tx + q), entry AT[p][a] AT[q][b] at column (4a + b) T + t. */
function winogradOutputMatrix(hw: number): Float32Array {
  const h2 = hw / 2;
  const t = h2 * h2;
  const k = new Float32Array(hw * hw * 16 * t);
  for (let ty = 0; ty < h2; ty++)
    for (let tx = 0; tx < h2; tx++)
      for (let p = 0; p < 2; p++)
        for (let q = 0; q < 2; q++)
          for (let a = 0; a < 4; a++)
            for (let b = 0; b < 4; b++) k[((2 * ty + p) * hw + 2 * tx + q) * 16 * t + (a * 4 + b) * t + ty * h2 + tx] = WINO_AT[p][a] * WINO_AT[q][b];
  return k;
}

/**
 * The transformed filters G g G^T of an OIHW [co, ci, 3, 3] kernel as [16, ci, co] (component 4a+b, input
 * channel, output channel), computed in double precision.
 */
export function winogradWeights(oihw: Float32Array, ci: number, co: number): Float32Array {
  const u = new Float32Array(16 * ci * co);
  const t = new Float64Array(12);
  for (let o = 0; o < co; o++)
    for (let c = 0; c < ci; c++) {
      const g = oihw.subarray((o * ci + c) * 9, (o * ci + c) * 9 + 9);
      // t = G g  [4, 3]
      for (let a = 0; a < 4; a++) for (let k = 0; k < 3; k++) t[a * 3 + k] = WINO_G[a][0] * g[k] + WINO_G[a][1] * g[3 + k] + WINO_G[a][2] * g[6 + k];
      // (G g) G^T  [4, 4]
      for (let a = 0; a < 4; a++)
        for (let b = 0; b < 4; b++) u[((a * 4 + b) * ci + c) * co + o] = t[a * 3] * WINO_G[b][0] + t[a * 3 + 1] * WINO_G[b][1] + t[a * 3 + 2] * WINO_G[b][2];
    }
  return u;
}

/**
 * Whether a 3x3 stride-1 pad-1 convolution on an hw x hw map with `cin` -> `cout` channels runs as Winograd
 * F(2x2,3x3) (winogradConv) in 'auto' mode. Measured by src/bench/ort-layout.ts --layers (2 threads, batch 64,
 * ms per batch, direct / rows / Winograd): 4x4 512 -> 512 forward 39.5 / 44.2 / 27.9, backward 40.5 / 43.5 /
 * 25.9; 4x4 256 -> 512 forward 20.2 / 25.7 / 18.7, backward 19.5 / 26.1 / 14.6; 2x2 512 -> 512 17.3 / 11.9 /
 * 8.2; but 8x8 256 -> 256 37.9 / 48.5 / 44.8 and 4x4 128 -> 128 2.5 / 3.8 / 2.9 (the whole-map transform
 * matrices grow as hw^4, the channel products only as hw^2). 2x2 maps go dense first (dense2x2Pays).
 */
export function winogradPays(hw: number, cin: number, cout: number): boolean {
  const c = Math.min(cin, cout);
  return hw % 2 === 0 && ((hw <= 4 && c >= 256) || (hw <= 2 && c >= 128));
}

/** The fixed transform matrices, one initializer each per graph and map size. */
const winogradConstants = new WeakMap<GraphBuilder, Map<number, { kin: string; kout: string }>>();

/**
 * Whether a 3x3 stride-1 pad-1 convolution on a 2x2 map runs as one dense Gemm (dense2x2Conv) in 'auto' mode.
 * Measured by src/bench/ort-layout.ts --layers (2 threads, batch 64, ms per batch, direct / rows / Winograd /
 * dense): 512 -> 512 forward 23.6 / 13.9 / 9.3 / 6.0, backward 15.2 / 15.4 / 9.7 / 5.7; 128 -> 128 forward
 * 0.67 / 1.32 / 0.87 / 0.54, backward 0.90 / 1.38 / 0.78 / 0.43.
 */
export function dense2x2Pays(cin: number, cout: number): boolean {
  return Math.min(cin, cout) >= 128;
}

/**
 * A 3x3 convolution (pad 1, stride 1; + bias, + ReLU) of an NCHW batch [N, ci, hw, hw] (hw even) as Winograd
 * F(2x2,3x3): 2.25x fewer multiplies in the channel products, all of them in one batched GEMM; three matrix
 * products in all, the transposes folded into them:
 *   input transform   B^T d B of every 4x4 tile at stride 2 (winogradInputMatrix K_in): K_in [N ci, hw^2]^T ->
 *                     [16 T, N ci] = [16, T N, ci] (ONNX Runtime fuses the Transpose into the MatMul)
 *   product           MatMul with the transformed filters G g G^T [16, ci, co] -> [16, T N, co] = [16 T, N co]
 *   output transform  A^T m A of every tile (winogradOutputMatrix K_out), transposed back in the same Gemm:
 *                     M^T K_out^T -> [N co, hw^2] = [N, co, hw, hw]; + bias, ReLU
 * The transform matrices act on the whole map at once (4 hw^4 multiply-adds per channel each, against 9 co hw^2
 * of the direct convolution): they pay on the small maps where Winograd is used (winogradPays).
 * `u` names the [16, ci, co] transformed filters (winogradWeights).
 */
function winogradConv(
  g: GraphBuilder,
  input: string,
  u: string,
  b: string | null,
  relu: boolean,
  shape: { cin: number; cout: number; hw: number; batch: Dim },
  base: string,
): string {
  const { cin, cout, hw } = shape;
  const t = (hw / 2) * (hw / 2);
  let shared = winogradConstants.get(g);
  if (!shared) winogradConstants.set(g, (shared = new Map()));
  let mats = shared.get(hw);
  if (!mats) shared.set(hw, (mats = { kin: g.float(`wino_in_${hw}`, winogradInputMatrix(hw), [16 * t, hw * hw]), kout: g.float(`wino_out_${hw}`, winogradOutputMatrix(hw), [hw * hw, 16 * t]) }));
  const xt = g.op('Transpose', [g.op('Reshape', [input, g.int64(`${base}_wino_x2`, [-1, hw * hw])])], { perm: [1, 0] });
  const v = g.op('MatMul', [mats.kin, xt], {}, `${base}_wino_v`);
  const m = g.op('MatMul', [g.op('Reshape', [v, g.int64(`${base}_wino_v3`, [16, -1, cin])]), u], {}, `${base}_wino_m`);
  // the output transform and the transpose back in one Gemm: (Kout M)^T = M^T Kout^T -> [N co, hw^2]
  const yt = g.op('Gemm', [g.op('Reshape', [m, g.int64(`${base}_wino_m2`, [16 * t, -1])]), mats.kout], { transA: 1, transB: 1 }, `${base}_wino_y`);
  let out = g.op('Reshape', [yt, g.int64(`${base}_wino_out`, [-1, cout, hw, hw])], {}, b || relu ? `${base}_wino_z` : base);
  if (b) out = g.op('Add', [out, g.op('Reshape', [b, g.int64(`${base}_wino_b`, [1, cout, 1, 1])])], {}, relu ? `${base}_z` : base);
  if (relu) out = g.op('Relu', [out], {}, base);
  return out;
}

/**
 * A 3x3 pad-1 stride-1 convolution on a 2x2 map as the dense linear map it is: every output pixel's window covers
 * the whole map, so y[n, (o, p)] = sum over (c, q) of x[n, (c, q)] W[(c, q), (o, p)] with W[(c, q), (o, p)] the
 * kernel tap at offset q - p (pixels p, q = 2 row + column). NCHW [N, C, 2, 2] flattened is exactly the (c, q)
 * order, so the convolution is one Gemm [N, 4 ci] x [4 ci, 4 co] (16 ci co multiply-adds per image, as Winograd
 * F(2x2,3x3), with no transforms), and its input backward the same Gemm transposed. Returns W, [4 ci, 4 co].
 */
export function denseMatrix2x2(oihw: Float32Array, ci: number, co: number): Float32Array {
  const w = new Float32Array(16 * ci * co);
  for (let c = 0; c < ci; c++)
    for (let q = 0; q < 4; q++)
      for (let o = 0; o < co; o++)
        for (let p = 0; p < 4; p++) {
          const kh = (q >> 1) - (p >> 1) + 1;
          const kw = (q & 1) - (p & 1) + 1;
          w[(c * 4 + q) * 4 * co + o * 4 + p] = oihw[((o * ci + c) * 3 + kh) * 3 + kw];
        }
  return w;
}

/** The 2x2-map convolution as a Gemm with the dense matrix `w` (denseMatrix2x2); `transposed`: the input backward (w^T). */
function dense2x2Conv(g: GraphBuilder, input: string, w: string, b: string | null, relu: boolean, shape: { cin: number; cout: number }, transposed: boolean, base: string): string {
  const { cin, cout } = shape;
  const flat = g.op('Reshape', [input, g.int64(`${base}_d2_in`, [-1, 4 * cin])]);
  let z = g.op('Gemm', [flat, w], transposed ? { transB: 1 } : {}, `${base}_d2_z`);
  z = g.op('Reshape', [z, g.int64(`${base}_d2_out`, [-1, cout, 2, 2])], {}, b || relu ? `${base}_d2_zr` : base);
  if (b) z = g.op('Add', [z, g.op('Reshape', [b, g.int64(`${base}_d2_b`, [1, cout, 1, 1])])], {}, relu ? `${base}_z` : base);
  return relu ? g.op('Relu', [z], {}, base) : z;
}

/** How one 3x3 stride-1 pad-1 convolution is emitted (the bench's per-layer A/B). */
export type Conv3x3Form = 'plain' | 'rows' | 'winograd' | 'dense';

/**
 * The kernel of one 3x3 stride-1 pad-1 convolution in the layout each form takes, each added to the graph as an
 * initializer when a form first asks for it (a layer whose forward and backward use different forms gets only
 * the layouts they use; a layout both use is shared).
 */
export interface Conv3x3Weights {
  /** OIHW [cout, cin, 3, 3]: the plain and row forms. */
  oihw(): string;
  /** Winograd F(2x2, 3x3) U, [16, cin, cout]. */
  winograd(): string;
  /** The 2x2-map dense matrix (denseMatrix2x2), and whether this convolution is its transpose. */
  dense(): { w: string; transposed: boolean };
}

function once<T>(make: () => T): () => T {
  let value: { v: T } | null = null;
  return () => (value ??= { v: make() }).v;
}

/** The layouts of a forward kernel, OIHW [cout, cin, 3, 3], named `${base}_w`, `_wino_u`, `_d2_w`. */
export function conv3x3Weights(g: GraphBuilder, oihw: () => Float32Array, cin: number, cout: number, base: string): Conv3x3Weights {
  const kernel = once(oihw);
  const dense = once(() => g.float(`${base}_d2_w`, denseMatrix2x2(kernel(), cin, cout), [4 * cin, 4 * cout]));
  return {
    oihw: once(() => g.float(`${base}_w`, kernel(), [cout, cin, 3, 3])),
    winograd: once(() => g.float(`${base}_wino_u`, winogradWeights(kernel(), cin, cout), [16, cin, cout])),
    dense: () => ({ w: dense(), transposed: false }),
  };
}

/**
 * The layouts of the input backward of the forward convolution `fwd` (cin -> cout channels): a forward
 * convolution from cout to cin channels with the flipped, channel-swapped kernel (`flipped`, OIHW [cin, cout, 3,
 * 3]; named `${base}_wt`, `_wt_wino_u`), and on 2x2 maps the forward's own dense matrix, transposed.
 */
function inputBackwardWeights(g: GraphBuilder, fwd: Conv3x3Weights, flipped: () => Float32Array, cin: number, cout: number, base: string): Conv3x3Weights {
  const kernel = once(flipped);
  return {
    oihw: once(() => g.float(`${base}_wt`, kernel(), [cin, cout, 3, 3])),
    winograd: once(() => g.float(`${base}_wt_wino_u`, winogradWeights(kernel(), cout, cin), [16, cout, cin])),
    dense: () => ({ w: fwd.dense().w, transposed: true }),
  };
}

/**
 * One 3x3 stride-1 pad-1 convolution (+ bias, + ReLU) of an NCHW batch in the given form: the one dispatch of
 * buildGraph's forward and input backward and of emitConv3x3. `shape` is this convolution's (for a backward,
 * cin is the forward's cout).
 */
export function conv3x3(
  g: GraphBuilder,
  input: string,
  form: Conv3x3Form,
  weights: Conv3x3Weights,
  bias: string | null,
  relu: boolean,
  shape: { cin: number; cout: number; hw: number; batch: Dim },
  base: string,
): string {
  switch (form) {
    case 'dense': {
      if (shape.hw !== 2) throw new Error(`the dense form is for 2x2 maps, not ${shape.hw}x${shape.hw}`);
      const { w, transposed } = weights.dense();
      return dense2x2Conv(g, input, w, bias, relu, shape, transposed, base);
    }
    case 'winograd':
      return winogradConv(g, input, weights.winograd(), bias, relu, shape, base);
    case 'rows':
      return rowConv(g, input, weights.oihw(), bias, relu, shape, base);
    case 'plain': {
      const z = g.op('Conv', bias ? [input, weights.oihw(), bias] : [input, weights.oihw()], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, relu ? `${base}_z` : base);
      return relu ? g.op('Relu', [z], {}, base) : z;
    }
  }
}

/**
 * One 3x3 stride-1 pad-1 convolution from an OIHW [cout, cin, 3, 3] kernel and its bias, with its own
 * initializers, in the given form (the per-layer benchmark's A/B and the form tests).
 */
export function emitConv3x3(
  g: GraphBuilder,
  input: string,
  oihw: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  shape: { cin: number; cout: number; hw: number; batch: Dim },
  form: Conv3x3Form,
  base: string,
): string {
  const b = bias ? g.float(`${base}_b`, bias, [shape.cout]) : null;
  return conv3x3(g, input, form, conv3x3Weights(g, () => oihw, shape.cin, shape.cout, base), b, relu, shape, base);
}

function flipSwap(kernelHwio: Float32Array, k: number, ci: number, co: number): Float32Array {
  // HWIO [k,k,ci,co] -> the transposed convolution's kernel as a forward Conv weight: OIHW' [ci, co, k, k],
  // spatially flipped: out[i][o][kh][kw] = w[k-1-kh][k-1-kw][i][o].
  const out = new Float32Array(kernelHwio.length);
  for (let kh = 0; kh < k; kh++)
    for (let kw = 0; kw < k; kw++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((i * co + o) * k + (k - 1 - kh)) * k + (k - 1 - kw)] = kernelHwio[((kh * k + kw) * ci + i) * co + o];
  return out;
}

function hwioToOihw(w: Float32Array, k: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let kh = 0; kh < k; kh++)
    for (let kw = 0; kw < k; kw++)
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * k + kh) * k + kw] = w[((kh * k + kw) * ci + i) * co + o];
  return out;
}

/** Eval-mode kernel (HWIO) and bias of a conv stage: BatchNorm folded (VGG), or as stored (RepVGG deploy). */
export function foldedConv(stage: Extract<FeatureStageDesc, { kind: 'conv' }>, weights: GraphWeights): { kernel: Float32Array; bias: Float32Array } {
  const kernel = weights.param(`${stage.param}/kernel`).data;
  const bias = weights.param(`${stage.param}/bias`).data;
  if (stage.weights === 'fused') return { kernel: kernel.slice(), bias: bias.slice() };
  const gamma = weights.param(`${stage.param}/bn/gamma`).data;
  const beta = weights.param(`${stage.param}/bn/beta`).data;
  const mean = weights.param(`${stage.param}/bn/running_mean`).data;
  const variance = weights.param(`${stage.param}/bn/running_var`).data;
  const co = stage.outChannels;
  const scale = new Float32Array(co);
  for (let o = 0; o < co; o++) scale[o] = gamma[o] / Math.sqrt(variance[o] + BN_EPSILON);
  const k = new Float32Array(kernel.length);
  for (let j = 0; j < kernel.length; j++) k[j] = kernel[j] * scale[j % co];
  const b = new Float32Array(co);
  for (let o = 0; o < co; o++) b[o] = (bias[o] - mean[o]) * scale[o] + beta[o];
  return { kernel: k, bias: b };
}

/** Build the graph for `request` (see the module comment). */
export function buildGraph(desc: ModelDescription, weights: GraphWeights, request: GraphRequest, opts: GraphOptions = {}): BuiltGraph {
  if (desc.unsupported.length) throw new Error(`the ONNX engine cannot express ${desc.unsupported.join('; ')}`);
  const g = new GraphBuilder();
  const N: Dim = opts.batch ?? 'N';
  const [H, W, C0] = desc.inputShape;
  const classes = desc.numClasses;
  const grad = request.kind === 'grad' ? request : null;
  const path = grad?.path;
  const copies = grad?.eot ?? 1;
  if (!Number.isInteger(copies) || copies < 1) throw new Error(`EOT copies ${copies}: expected an integer >= 1`);
  // Rows above the camera: N, or k N under EOT (see emitOpu).
  const rows: Dim = copies === 1 ? N : typeof N === 'number' ? copies * N : `${N}x${copies}`;
  /** Index of the OPU's record when its camera rows are tiled (records above it see k N rows). */
  let tiledAt = -1;
  const sig: Partial<GraphSignature> = {};
  const records: Recorded[] = [];
  let macs = 0;

  const x = g.input('x', [N, H, W, C0]);
  sig.x = x;
  let h = g.op('Transpose', [x], { perm: [0, 3, 1, 2] }, 'x_nchw');
  const normalize = opts.normalize ?? true;
  if (normalize) {
    const mean = g.float('norm_mean', Float32Array.from(desc.normalization.mean), [1, C0, 1, 1]);
    const std = g.float('norm_std', Float32Array.from(desc.normalization.std), [1, C0, 1, 1]);
    h = g.op('Div', [g.op('Sub', [h, mean]), std], {}, 'normalized');
  }

  // ---- features ----
  let c = C0;
  let hw = H;
  const features = desc.features;
  for (const stage of features) {
    if (stage.kind === 'conv') {
      const { kernel, bias } = foldedConv(stage, weights);
      const ci = stage.inChannels;
      const co = stage.outChannels;
      if (ci !== c) throw new Error(`stage ${stage.name}: expected ${ci} input channels, the previous stage gives ${c}`);
      const fwdWeights = conv3x3Weights(g, () => hwioToOihw(kernel, 3, ci, co), ci, co, stage.name);
      const bName = g.float(`${stage.name}_b`, bias, [co]);
      const input = h;
      const inHw = hw;
      const outHw = Math.floor((hw + 2 * stage.pad - 3) / stage.stride) + 1;
      const rowLayout = opts.rowLayout ?? 'auto';
      const s1 = stage.stride === 1 && stage.pad === 1;
      const winogradMode = opts.winograd ?? 'auto';
      const denseMode = opts.dense2x2 ?? 'auto';
      const formFor = (cin: number, cout: number): Conv3x3Form => {
        if (winogradMode === 'always' && inHw % 2 === 0) return 'winograd';
        if (inHw === 2 && (denseMode === 'always' || (denseMode === 'auto' && dense2x2Pays(cin, cout)))) return 'dense';
        if (winogradMode === 'auto' && winogradPays(inHw, cin, cout)) return 'winograd';
        // the row layout's choice is the forward's, for the backward too
        return rowLayout === 'always' || (rowLayout === 'auto' && N !== 1 && batchRows(inHw, ci)) ? 'rows' : 'plain';
      };
      const shape = { cin: ci, cout: co, hw: inHw, batch: N };
      const y = s1
        ? conv3x3(g, input, formFor(ci, co), fwdWeights, bName, true, shape, stage.name)
        : g.op('Relu', [g.op('Conv', [input, fwdWeights.oihw(), bName], { kernel_shape: [3, 3], pads: [stage.pad, stage.pad, stage.pad, stage.pad], strides: [stage.stride, stage.stride] }, `${stage.name}_z`)], {}, stage.name);
      const bwdWeights = inputBackwardWeights(g, fwdWeights, () => flipSwap(kernel, 3, ci, co), ci, co, stage.name);
      macs += outHw * outHw * co * ci * 9;
      records.push({
        backward: (dy, masked) => {
          const dz = masked ? dy : g.op('Mul', [dy, reluMask(g, y, `${stage.name}_mask`)], {}, `${stage.name}_dz`);
          if (s1) return conv3x3(g, dz, formFor(co, ci), bwdWeights, null, false, { cin: co, cout: ci, hw: inHw, batch: N }, `${stage.name}_dx`);
          const full = (outHw - 1) * stage.stride - 2 * stage.pad + 3;
          const extra = inHw - full;
          return g.op('ConvTranspose', [dz, fwdWeights.oihw()], { kernel_shape: [3, 3], pads: [stage.pad, stage.pad, stage.pad, stage.pad], strides: [stage.stride, stage.stride], output_padding: [extra, extra] }, `${stage.name}_dx`);
        },
        feedback: stage.dfaPoint ? { size: outHw * outHw * co, nchw: [co, outHw, outHw] } : undefined,
      });
      h = y;
      c = co;
      hw = outHw;
    } else if (stage.kind === 'maxpool') {
      if (hw % 2 !== 0) throw new Error(`max-pool ${stage.name} on an odd map size ${hw}`);
      const pool = { kernel_shape: [2, 2], strides: [2, 2] };
      // The gradient graph routes dy to each window's first maximum (row-major, strict '>'): the indices of ONNX
      // Runtime's MaxPool, the tie rule of tfjs and of opulab's MaxPoolGrad. A mask (x == upsampled y) would split
      // the gradient between tied maxima, which flat image regions have.
      const [y, indices] = grad ? g.opN('MaxPool', [h], 2, pool, stage.name) : [g.op('MaxPool', [h], pool, stage.name), ''];
      // The stage below is a conv + ReLU (VGG): its mask at the routed position is the sign of the window's max.
      const belowIsRelu = features[features.indexOf(stage) - 1]?.kind === 'conv';
      records.push({
        backward: (dy) => {
          const dyMasked = belowIsRelu ? g.op('Mul', [dy, g.op('Sign', [y])], {}, `${stage.name}_dym`) : dy;
          return g.op('MaxUnpool', [dyMasked, indices], pool, `${stage.name}_dx`);
        },
        masksBelow: belowIsRelu,
      });
      h = y;
      hw = hw / 2;
    } else {
      const input = h;
      const cc = c;
      const area = hw * hw;
      h = g.op('GlobalAveragePool', [input], {}, stage.name);
      const shape = g.int64(`${stage.name}_shape`, [typeof N === 'number' ? N : -1, cc, hw, hw]);
      records.push({
        backward: (dy) => {
          const scaled = g.op('Mul', [dy, g.scalar(1 / area)]);
          // Expand broadcasts [N,C,1,1] to [N,C,H,W]; the batch entry comes from the input's own shape.
          return g.op('Expand', [scaled, typeof N === 'number' ? shape : g.op('Shape', [input])], {}, `${stage.name}_dx`);
        },
      });
      hw = 1;
    }
  }
  // Flatten [N,C,1,1] -> [N,C] (1x1 maps: NCHW and NHWC orders agree).
  if (hw !== 1) throw new Error(`features end with a ${hw}x${hw} map: expected 1x1`);
  const featShape = [c, 1, 1];
  h = g.op('Flatten', [h], { axis: 1 }, 'features');
  records.push({ backward: (dy) => g.op('Reshape', [dy, g.int64('feat_shape', [typeof N === 'number' ? N : -1, ...featShape])]) });

  // ---- head ----
  let width = c;
  let noiseWidth: number | undefined;
  for (const stage of desc.head) {
    const input = h;
    switch (stage.kind) {
      case 'dense': {
        const p = weights.param(`${stage.param}/kernel`);
        const b = weights.param(`${stage.param}/bias`);
        const wName = g.float(`${stage.param}_w`, p.data, p.shape);
        const bName = g.float(`${stage.param}_b`, b.data, b.shape);
        macs += stage.inFeatures * stage.outFeatures;
        const z = g.op('Gemm', [input, wName, bName], {}, `${stage.param}_z`);
        const y = stage.relu ? g.op('Relu', [z], {}, stage.param) : z;
        records.push({
          backward: (dy) => {
            const dz = stage.relu ? g.op('Mul', [dy, g.op('Sign', [y])]) : dy;
            return g.op('Gemm', [dz, wName], { transB: 1 }, `${stage.param}_dx`);
          },
        });
        h = y;
        width = stage.outFeatures;
        break;
      }
      case 'feedback': {
        // A DFA point on the previous stage's output (identity forward).
        const active = stage.when === 'dfa-or-hybrid' || desc.training === 'dfa';
        const last = records[records.length - 1];
        if (active && desc.training !== 'bp') last.feedback = { size: width, nchw: null };
        break;
      }
      case 'relu': {
        const y = g.op('Relu', [input]);
        records.push({ backward: (dy) => g.op('Mul', [dy, g.op('Sign', [y])]) });
        h = y;
        break;
      }
      case 'sign': {
        h = emitSign(g, stage, input, weights, path, records);
        break;
      }
      case 'opu': {
        const out = emitOpu(g, stage, input, weights, path, records, N, sig, copies);
        if (copies > 1) tiledAt = records.length - 1;
        h = out;
        macs += stage.inFeatures * stage.outFeatures * (stage.mode === 'physical' ? 2 : 1);
        width = stage.outFeatures;
        noiseWidth = stage.outFeatures;
        break;
      }
    }
  }
  if (copies > 1 && tiledAt < 0) throw new Error(`EOT copies ${copies} need a noisy camera: the model has none`);
  const logits = h;
  sig.logits = g.output(logits, 'logits', [rows, classes]);
  if (noiseWidth !== undefined && sig.cameraNoise) sig.noiseWidth = noiseWidth;

  if (grad) {
    const labels = g.input('labels', [N, 1]);
    sig.labels = labels;
    let trueLabels: string | undefined;
    if (grad.loss.name === 'dlr' && grad.loss.targeted) {
      trueLabels = g.input('true_labels', [N, 1]);
      sig.trueLabels = trueLabels;
    }
    const tile = (v: string): string => (copies === 1 ? v : g.op('Tile', [v, g.int64('eot_repeats', [copies, 1])]));
    const perRow = emitLoss(g, grad.loss.name, grad.loss.targeted, logits, tile(labels), trueLabels && tile(trueLabels), classes);
    // EOT: the loss of an example is the mean over its copies, so each copy's dL/dlogits carries a factor 1/k.
    const loss = copies === 1 ? perRow.loss : g.op('ReduceMean', [g.op('Reshape', [perRow.loss, g.int64('eot_loss_shape', [copies, -1])])], { axes: [0], keepdims: 0 }, 'loss_eot');
    const dlogits = copies === 1 ? perRow.dlogits : g.op('Mul', [perRow.dlogits, g.scalar(1 / copies)], {}, 'dlogits_eot');
    sig.loss = g.output(loss, 'loss', [N]);
    // Backward: from the logits, or (DFA path) from the lowest active feedback point with e B as its gradient.
    let start = records.length - 1;
    let dy: string | null = dlogits;
    const fbMatrix = grad.path.dfa ? weights.feedback() : null;
    if (grad.path.dfa && fbMatrix) {
      const lowest = records.findIndex((r) => r.feedback);
      if (lowest >= 0) {
        const fb = records[lowest].feedback!;
        const cols = new Float32Array(fbMatrix.classes * fb.size);
        for (let r = 0; r < fbMatrix.classes; r++) cols.set(fbMatrix.data.subarray(r * fbMatrix.size, r * fbMatrix.size + fb.size), r * fb.size);
        const bName = g.float('dfa_feedback', cols, [fbMatrix.classes, fb.size]);
        // A feedback point below the tiled camera rows takes the sum of the copies' errors (the mean, with 1/k).
        const e = copies > 1 && lowest < tiledAt ? sumCopies(g, dlogits, copies, classes) : dlogits;
        let injected = g.op('MatMul', [e, bName], {}, 'dfa_signal');
        if (fb.nchw) {
          const [cc, hh, ww] = fb.nchw;
          // e B is laid out like the tfjs activation (NHWC): reshape there, then to NCHW.
          injected = g.op('Transpose', [g.op('Reshape', [injected, g.int64('dfa_shape', [typeof N === 'number' ? N : -1, hh, ww, cc])])], { perm: [0, 3, 1, 2] });
        }
        dy = injected;
        start = lowest;
      }
    }
    for (let i = start, masked = false; i >= 0 && dy !== null; i--) {
      dy = records[i].backward(dy, masked);
      masked = records[i].masksBelow ?? false;
    }
    let dx: string;
    if (dy === null) dx = g.op('Mul', [x, g.scalar(0)], {}, 'zero_grad');
    else {
      if (normalize) dy = g.op('Div', [dy, g.float('norm_std_b', Float32Array.from(desc.normalization.std), [1, C0, 1, 1])]);
      dx = g.op('Transpose', [dy], { perm: [0, 2, 3, 1] }, 'grad_nhwc');
    }
    sig.grad = g.output(dx, 'grad', [N, H, W, C0]);
  }
  const signature = sig as GraphSignature;
  const metadata = opts.metadata?.(signature) ?? {};
  return { bytes: g.serialize(`${desc.id}-${request.kind}`, metadata, opts.producerVersion), signature, parameters: g.parameterCount, forwardMacs: macs };
}

function emitSign(
  g: GraphBuilder,
  stage: Extract<HeadStageDesc, { kind: 'sign' }>,
  input: string,
  weights: GraphWeights,
  path: GradientPath | undefined,
  records: Recorded[],
): string {
  let z: string;
  if (stage.center === 'running-mean') z = g.op('Sub', [input, g.float('sign_center', weights.param(stage.centerParam!).data.slice(), [])]);
  else if (stage.center === 'batch-mean') z = g.op('Sub', [input, g.op('ReduceMean', [input], { keepdims: 1 })]);
  else z = g.op('Sub', [input, g.op('ReduceMean', [input], { axes: [1], keepdims: 1 })]);
  // Ties (z exactly 0) map to +1, as src/optics/encoders.ts.
  const s = g.op('Where', [g.op('GreaterOrEqual', [z, g.scalar(0)]), g.scalar(1), g.scalar(-1)], {}, 'sign');
  records.push({
    backward: (dy) => {
      const mode = path?.sign ?? 'zero';
      if (mode === 'zero') return null;
      let dz = dy;
      if (mode === 'tanh') {
        const beta = path?.signBeta ?? 1;
        const t = g.op('Tanh', [g.op('Mul', [z, g.scalar(beta)])]);
        dz = g.op('Mul', [dy, g.op('Mul', [g.op('Sub', [g.scalar(1), g.op('Mul', [t, t])]), g.scalar(beta)])]);
      }
      // Adjoint of the centering: the batch or sample mean is differentiated (the running mean is a constant).
      if (stage.center === 'batch-mean') return g.op('Sub', [dz, g.op('ReduceMean', [dz], { keepdims: 1 })]);
      if (stage.center === 'sample-mean') return g.op('Sub', [dz, g.op('ReduceMean', [dz], { axes: [1], keepdims: 1 })]);
      return dz;
    },
  });
  return s;
}

/** Concatenate row-major [n, m] matrices along columns: [A_1 | ... | A_k] as [n, k*m]. */
function concatColumns(parts: readonly Float32Array[], n: number, m: number): Float32Array {
  const k = parts.length;
  const out = new Float32Array(n * k * m);
  for (let i = 0; i < n; i++) for (let p = 0; p < k; p++) out.set(parts[p].subarray(i * m, (i + 1) * m), (i * k + p) * m);
  return out;
}

function emitOpu(
  g: GraphBuilder,
  stage: Extract<HeadStageDesc, { kind: 'opu' }>,
  input: string,
  weights: GraphWeights,
  path: GradientPath | undefined,
  records: Recorded[],
  N: Dim,
  sig: Partial<GraphSignature>,
  copies = 1,
): string {
  const n = stage.inFeatures;
  const m = stage.outFeatures;
  const camera = new Camera(stage.camera);
  const physical = stage.mode === 'physical';
  // DMD pixels: (s + 1) / 2 for the signed encoder output in physical mode (src/optics/opu.ts), else s.
  const pix = physical ? g.op('Div', [g.op('Add', [input, g.scalar(1)]), g.scalar(2)], {}, 'opu_pixels') : input;
  const slope = physical ? 0.5 : 1;
  const mat = weights.opuMatrix();
  const parts = physical ? [mat.real, mat.imag!] : [mat.real];
  const aName = g.float('opu_matrix', concatColumns(parts, n, m), [n, parts.length * m]);
  const q = g.op('MatMul', [pix, aName], {}, 'opu_field');
  const sq = g.op('Mul', [q, q]);
  const starts = (i: number): string => g.int64(`opu_slice_${i}`, [i * m]);
  const intensity = physical
    ? g.op('Add', [g.op('Slice', [sq, starts(0), starts(1), g.int64('opu_axis', [1])]), g.op('Slice', [sq, starts(1), starts(2), g.int64('opu_axis2', [1])])], {}, 'opu_intensity')
    : sq;
  if (copies > 1 && !camera.stochastic) throw new Error(`EOT copies ${copies} need a noisy camera: this one has no noise`);
  // EOT: the camera reads k copies of the (deterministic) intensity, each with its own noise rows.
  const cameraRows: Dim = copies === 1 ? N : typeof N === 'number' ? copies * N : `${N}x${copies}`;
  const tiled = copies === 1 ? intensity : g.op('Tile', [intensity, g.int64('eot_repeats_opu', [copies, 1])], {}, 'opu_intensity_eot');
  const readout = emitCamera(g, camera, tiled, cameraRows, m, sig, copies);
  const center = (v: string): string => centerReadout(g, camera, v);

  records.push({
    backward: (dyRows) => {
      const mode = path?.opu ?? 'none';
      if (mode === 'none') return null;
      // The rules below are linear in dy: the sum of the copies' cotangents gives the sum of their gradients.
      const dy = copies === 1 ? dyRows : sumCopies(g, dyRows, copies, m);
      const centered = camera.hardwareNormalize === 'none' ? dy : center(dy);
      if (mode === 'random') {
        const bName = g.float('opu_backward', weights.opuRandomBackward(), [n, m]);
        const s = camera.scale;
        const gIn = s === 1 ? centered : g.op('Mul', [centered, g.scalar(s)]);
        return g.op('Gemm', [gIn, bName], { transB: 1 }, 'opu_dx');
      }
      let factors: string;
      let field: string;
      let signs: string | null = null;
      let gIn: string;
      let k: number;
      if (mode === 'true') {
        factors = aName;
        field = q;
        k = parts.length;
        gIn = camera.scale === 1 ? centered : g.op('Mul', [centered, g.scalar(camera.scale)]);
      } else {
        const est = weights.opuEstimate();
        if (!est) throw new Error("OPU gradient 'estimated' needs an estimate: the classifier estimates it before building the graph");
        k = est.factors.length;
        factors = g.float('opu_estimate', concatColumns(est.factors, n, m), [n, k * m]);
        field = g.op('MatMul', [pix, factors], {}, 'opu_est_field');
        if (est.signs) signs = g.float('opu_estimate_signs', est.signs.slice(), [1, k * m]);
        gIn = centered; // an estimate already includes the camera scale (src/optics/opu.ts)
      }
      let gRep = k === 1 ? gIn : g.op('Concat', [...new Array<string>(k).fill(gIn)], { axis: 1 });
      if (signs) gRep = g.op('Mul', [gRep, signs]);
      const dx = g.op('Gemm', [g.op('Mul', [gRep, field]), factors], { transB: 1 });
      return g.op('Mul', [dx, g.scalar(2 * slope)], {}, 'opu_dx');
    },
  });
  return readout;
}

/**
 * The camera's mean subtraction (batch or per sample) of [N, m] values; self-adjoint, so also its backward. With
 * `copies` > 1 the rows are k copy-major groups of N (EOT) and the batch mean is each group's own, as k separate
 * readouts would have it.
 */
function centerReadout(g: GraphBuilder, camera: Camera, v: string, copies = 1, width = 0): string {
  if (camera.hardwareNormalize !== 'batch-mean') return g.op('Sub', [v, g.op('ReduceMean', [v], { axes: [1], keepdims: 1 })]);
  if (copies === 1) return g.op('Sub', [v, g.op('ReduceMean', [v], { keepdims: 1 })]);
  const groups = g.op('Reshape', [v, g.int64('eot_groups_shape', [copies, -1, width])], {}, 'eot_groups');
  const centered = g.op('Sub', [groups, g.op('ReduceMean', [groups], { axes: [1, 2], keepdims: 1 })]);
  return g.op('Reshape', [centered, g.int64('eot_rows_shape', [-1, width])]);
}

/** Sum the k copy-major row groups of [k N, width] values into [N, width] (the adjoint of the EOT Tile). */
function sumCopies(g: GraphBuilder, v: string, copies: number, width: number): string {
  const groups = g.op('Reshape', [v, g.int64('eot_sum_shape', [copies, -1, width])]);
  return g.op('ReduceSum', [groups, g.int64('axis0', [0])], { keepdims: 0 }, 'eot_sum');
}

/**
 * The camera readout of an optical intensity [N, m] (src/optics/camera.ts read()): gain and exposure, dark
 * offset, shot and read noise (one standard-normal graph input `camera_noise`, named in `sig`, scaled by
 * sqrt(gain * signal + readNoiseStd^2)), 8-bit rounding and saturation, the hardware /maxCount and mean
 * subtraction. Also used by the OPU query graph (opu-queries.ts).
 */
export function emitCamera(g: GraphBuilder, camera: Camera, intensity: string, N: Dim, m: number, sig: Pick<GraphSignature, 'cameraNoise'>, copies = 1): string {
  let y = intensity;
  const a = camera.gain * camera.exposure;
  if (a !== 1) y = g.op('Mul', [y, g.scalar(a)]);
  if (camera.darkOffset !== 0) y = g.op('Add', [y, g.scalar(camera.darkOffset)]);
  if (camera.stochastic) {
    sig.cameraNoise = g.input('camera_noise', [N, m]);
    const readVar = camera.readNoiseStd * camera.readNoiseStd;
    let std = g.scalar(camera.readNoiseStd);
    if (camera.shotNoise) {
      const shotVar = g.op('Mul', [g.op('Relu', [y]), g.scalar(camera.gain)]);
      std = g.op('Sqrt', [readVar > 0 ? g.op('Add', [shotVar, g.scalar(readVar)]) : shotVar]);
    }
    y = g.op('Add', [y, g.op('Mul', [sig.cameraNoise, std])]);
  }
  if (camera.quantize) y = g.op('Clip', [g.op('Round', [y]), g.scalar(0), g.scalar(camera.maxCount)]);
  if (camera.hardwareNormalize !== 'none') y = centerReadout(g, camera, g.op('Div', [y, g.scalar(camera.maxCount)]), copies, m);
  return g.op('Identity', [y], {}, 'opu_readout');
}

/** Per-example loss [N] and its gradient dL/dlogits [N, C] for L = sum of the losses (attacks/losses.ts). */
export function emitLoss(
  g: GraphBuilder,
  name: EngineLossName,
  targeted: boolean,
  z: string,
  labels: string,
  trueLabels: string | undefined,
  classes: number,
): { loss: string; dlogits: string } {
  const range = g.float('class_range', Float32Array.from({ length: classes }, (_, i) => i), [1, classes]);
  const rangeI = g.int64('class_range_i64', Array.from({ length: classes }, (_, i) => i));
  const axis1 = g.int64('axis1', [1]);
  const maskOf = (lab: string): string => g.op('Equal', [range, lab]);
  const oneHot = (mask: string): string => g.op('Cast', [mask], { to: 1 });
  const pick = (oh: string): string => g.op('ReduceSum', [g.op('Mul', [z, oh]), axis1], { keepdims: 1 });
  const excluded = g.scalar(EXCLUDED);
  const squeeze = (v: string, base: string): string => g.op('Squeeze', [v, axis1], {}, base);
  const neg = (v: string): string => g.op('Neg', [v]);
  const ties = (v: string, max: string): string => g.op('Cast', [g.op('Equal', [v, max])], { to: 1 });
  const mask = maskOf(labels);
  const oh = oneHot(mask);
  if (name === 'ce') {
    const ls = g.op('LogSoftmax', [z], { axis: 1 });
    const picked = g.op('ReduceSum', [g.op('Mul', [ls, oh]), axis1], { keepdims: 0 });
    const softmax = g.op('Exp', [ls]);
    return targeted
      ? { loss: picked, dlogits: g.op('Sub', [oh, softmax], {}, 'dlogits') }
      : { loss: neg(picked), dlogits: g.op('Sub', [softmax, oh], {}, 'dlogits') };
  }
  // max over the classes other than the label
  const others = g.op('Where', [mask, excluded, z]);
  const maxOther = g.op('ReduceMax', [others], { axes: [1], keepdims: 1 });
  const dMaxOther = ties(others, maxOther);
  const zl = pick(oh);
  if (name === 'cw') {
    return targeted
      ? { loss: squeeze(g.op('Sub', [zl, maxOther]), 'loss_cw'), dlogits: g.op('Sub', [oh, dMaxOther], {}, 'dlogits') }
      : { loss: squeeze(g.op('Sub', [maxOther, zl]), 'loss_cw'), dlogits: g.op('Sub', [dMaxOther, oh], {}, 'dlogits') };
  }
  // DLR: successive maxima with the arg-max excluded each time (the k largest logits, attacks/losses.ts topLogits).
  const tops: { value: string; rest: string }[] = [];
  let rest = z;
  for (let j = 0; j < (targeted ? 4 : 3); j++) {
    const value = g.op('ReduceMax', [rest], { axes: [1], keepdims: 1 });
    tops.push({ value, rest });
    const arg = g.op('ArgMax', [rest], { axis: 1, keepdims: 1 });
    rest = g.op('Where', [g.op('Equal', [rangeI, arg]), excluded, rest]);
  }
  const eps = g.scalar(1e-12);
  const dTop = (j: number): string => ties(tops[j].rest, tops[j].value);
  if (!targeted) {
    // l = -(z_y - maxOther) / (z1 - z3 + 1e-12)
    const margin = g.op('Sub', [zl, maxOther]);
    const denom = g.op('Add', [g.op('Sub', [tops[0].value, tops[2].value]), eps]);
    const loss = squeeze(neg(g.op('Div', [margin, denom])), 'loss_dlr');
    const dMargin = g.op('Sub', [oh, dMaxOther]);
    const dDenom = g.op('Sub', [dTop(0), dTop(2)]);
    // dl = -dMargin / D + margin / D^2 * dDenom
    const term1 = g.op('Div', [neg(dMargin), denom]);
    const term2 = g.op('Mul', [g.op('Div', [margin, g.op('Mul', [denom, denom])]), dDenom]);
    return { loss, dlogits: g.op('Add', [term1, term2], {}, 'dlogits') };
  }
  // targeted: labels are the targets t; l = -(z_y - z_t) / (z1 - (z3 + z4)/2 + 1e-12)
  const ohY = oneHot(maskOf(trueLabels!));
  const zy = pick(ohY);
  const diff = g.op('Sub', [zy, zl]);
  const half = g.scalar(0.5);
  const denom = g.op('Add', [g.op('Sub', [tops[0].value, g.op('Mul', [g.op('Add', [tops[2].value, tops[3].value]), half])]), eps]);
  const loss = squeeze(neg(g.op('Div', [diff, denom])), 'loss_dlr');
  const dDiff = g.op('Sub', [ohY, oh]);
  const dDenom = g.op('Sub', [dTop(0), g.op('Mul', [g.op('Add', [dTop(2), dTop(3)]), half])]);
  const term1 = g.op('Div', [neg(dDiff), denom]);
  const term2 = g.op('Mul', [g.op('Div', [diff, g.op('Mul', [denom, denom])]), dDenom]);
  return { loss, dlogits: g.op('Add', [term1, term2], {}, 'dlogits') };
}
