/**
 * Training-mode BatchNorm + ReLU as one kernel with one gradient kernel, for the wasm and cpu backends.
 *
 * y = relu(gamma * (z + bias - mu) / sqrt(var + eps) + beta), with mu, var the biased batch statistics of
 * z + bias over every axis but the last (channels); outputs [y, mu, var]. Built from tfjs ops the same
 * layer costs ~15 full passes over the activation forward and backward (moments, FusedBatchNorm, its
 * gradient's Tile/Sub/Mul/Sum chain, moments' gradient, Relu/Step); profiling a VGG-16 training step at
 * width 0.25 put those at a third of the step. Here it is 2 passes forward and 2 backward, using the
 * closed-form BatchNorm input gradient (Ioffe & Szegedy 2015, sec. 3):
 *   g = dy * [y > 0],  xhat = (z + bias - mu) * rstd,  rstd = 1 / sqrt(var + eps),  M = rows
 *   dz = gamma * rstd * (g - mean(g) - xhat * mean(g * xhat)),  dgamma = sum(g * xhat),  dbeta = sum(g),
 *   dbias = sum(dz) = 0 exactly (BatchNorm removes any per-channel shift; returned as exact zeros)
 * The statistics outputs mu, var are for running-stat updates and are not differentiated (their incoming
 * gradient is ignored, like a stop-gradient). Sums accumulate in Float64; var = E[x^2] - E[x]^2 in Float64.
 *
 * On wasm, with channels a multiple of 4, both passes run as SIMD loops in opulab's wasm module
 * (bn_relu_forward / bn_relu_backward in native/conv-simd.c: same formulas, column sums in float32 over blocks of
 * 32 rows folded into float64); the JavaScript loops below serve the cpu backend and other channel counts.
 *
 * `batchNormReluTrain` runs the kernel when the active backend has it and returns null otherwise (the
 * caller keeps its op-by-op path, e.g. on tfjs-node).
 */
import * as tf from '@tensorflow/tfjs-core';
import { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ConvSimdExports, convSimdFor, heapOffset } from './conv-simd';

export const BN_RELU_TRAIN = 'OpulabBatchNormReluTrain';
export const BN_RELU_TRAIN_GRAD = 'OpulabBatchNormReluTrainGrad';
const BACKENDS = ['wasm', 'cpu'] as const;
type BackendKind = (typeof BACKENDS)[number];

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** Float32 storage access for one backend kind: read an input, allocate an output. */
interface Storage {
  alloc(shape: number[]): TensorInfo;
  values(t: TensorInfo): Float32Array;
}

interface CpuLike {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): TensorInfo;
}

function storage(kind: BackendKind, backend: unknown): Storage {
  if (kind === 'wasm') {
    const b = backend as BackendWasm;
    // views are taken after every allocation of a kernel (the wasm heap may grow and detach old views)
    return { alloc: (shape) => b.makeOutput(shape, 'float32'), values: (t) => b.typedArrayFromHeap(t) as Float32Array };
  }
  const b = backend as CpuLike;
  return {
    alloc: (shape) => b.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((a, d) => a * d, 1))),
    values: (t) => b.data.get(t.dataId).values,
  };
}

/** Calls that ran on the SIMD loops (forward + backward), for tests. */
export const bnReluSimdCalls = { count: 0 };

/**
 * Run one of the SIMD loops (bn_relu_forward / bn_relu_backward) when the kernel runs on wasm with channels a
 * multiple of 4: `call` gets the kernels, a tensor -> heap offset function, the row count and the offset of a
 * 7 * channels float scratch buffer. Returns false when the JavaScript loops must run instead.
 */
function runSimd(
  kind: BackendKind,
  backend: unknown,
  x: TensorInfo,
  call: (simd: ConvSimdExports, at: (t: TensorInfo) => number, rows: number, scratch: number) => void,
): boolean {
  const channels = x.shape[x.shape.length - 1];
  const simd = kind === 'wasm' && channels % 4 === 0 ? convSimdFor(backend as BackendWasm) : null;
  if (!simd) return false;
  const b = backend as BackendWasm;
  const scratch = b.makeOutput([7 * channels], 'float32');
  const at = (t: TensorInfo) => heapOffset(b, t);
  bnReluSimdCalls.count++;
  try {
    call(simd, at, x.shape.reduce((a, d) => a * d, 1) / channels, at(scratch));
  } finally {
    b.disposeData(scratch.dataId);
  }
  return true;
}

function checkFloat(t: TensorInfo, name: string, channels?: number): void {
  if (t.dtype !== 'float32') throw new Error(`${BN_RELU_TRAIN}: ${name} must be float32, got ${t.dtype}`);
  if (channels !== undefined && (t.shape.length !== 1 || t.shape[0] !== channels)) {
    throw new Error(`${BN_RELU_TRAIN}: ${name} of shape [${t.shape}], expected [${channels}]`);
  }
}

/** Forward pass on flat arrays (exported for tests): fills y, mean, variance; z is [rows, C]. */
export function bnReluForward(
  z: Float32Array,
  bias: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const c = bias.length;
  const rows = z.length / c;
  const s1 = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let o = 0; o < z.length; o += c) {
    for (let k = 0; k < c; k++) {
      const v = z[o + k];
      s1[k] += v;
      s2[k] += v * v;
    }
  }
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const mz = s1[k] / rows;
    const vz = Math.max(0, s2[k] / rows - mz * mz);
    mean[k] = mz + bias[k];
    variance[k] = vz;
    scale[k] = gamma[k] / Math.sqrt(vz + eps);
    shift[k] = beta[k] - mz * scale[k]; // (z + bias - mean) = z - mean(z)
  }
  for (let o = 0; o < z.length; o += c) {
    for (let k = 0; k < c; k++) {
      const v = z[o + k] * scale[k] + shift[k];
      y[o + k] = (v + Math.abs(v)) * 0.5; // relu, exact and branch-free (signs are unpredictable)
    }
  }
}

/** Backward pass on flat arrays (exported for tests): fills dz and the per-channel gradients. */
export function bnReluBackward(
  dy: Float32Array,
  z: Float32Array,
  y: Float32Array,
  bias: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
  dz: Float32Array,
  dbias: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const c = bias.length;
  const rows = z.length / c;
  const meanZ = new Float32Array(c);
  const rstd = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    meanZ[k] = mean[k] - bias[k];
    rstd[k] = 1 / Math.sqrt(variance[k] + eps);
  }
  const sg = new Float64Array(c);
  const sgx = new Float64Array(c); // sum g * (z - meanZ)
  for (let o = 0; o < z.length; o += c) {
    for (let k = 0; k < c; k++) {
      const g = dy[o + k] * +(y[o + k] > 0); // dy * step(y), as tfjs's Relu gradient
      sg[k] += g;
      sgx[k] += g * (z[o + k] - meanZ[k]);
    }
  }
  // dz = a*g + b*z + d per channel
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  const d = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const gr = gamma[k] * rstd[k];
    const bk = (-gr * sgx[k] * rstd[k] * rstd[k]) / rows;
    a[k] = gr;
    b[k] = bk;
    d[k] = (-gr * sg[k]) / rows - bk * meanZ[k];
    dgamma[k] = sgx[k] * rstd[k];
    dbeta[k] = sg[k];
    // sum(dz) = gamma*rstd*(sum g - M mean(g) - mean(g xhat) sum xhat) = 0 exactly, as sum xhat = 0
    dbias[k] = 0;
  }
  for (let o = 0; o < z.length; o += c) {
    for (let k = 0; k < c; k++) {
      dz[o + k] = a[k] * (dy[o + k] * +(y[o + k] > 0)) + b[k] * z[o + k] + d[k];
    }
  }
}

function forwardKernel(kind: BackendKind): KernelFunc {
  return ((args: KernelArgs): TensorInfo[] => {
    const { x, bias, gamma, beta } = args.inputs;
    const eps = args.attrs?.epsilon as number;
    const channels = x.shape[x.shape.length - 1];
    checkFloat(x, 'x');
    for (const [name, t] of Object.entries({ bias, gamma, beta })) checkFloat(t, name, channels);
    const s = storage(kind, args.backend);
    const y = s.alloc(x.shape);
    const mean = s.alloc([channels]);
    const variance = s.alloc([channels]);
    const simd = runSimd(kind, args.backend, x, (k, at, rows, scratch) =>
      k.bn_relu_forward(at(x), at(bias), at(gamma), at(beta), eps, at(y), at(mean), at(variance), rows, channels, scratch),
    );
    if (simd) return [y, mean, variance];
    bnReluForward(s.values(x), s.values(bias), s.values(gamma), s.values(beta), eps, s.values(y), s.values(mean), s.values(variance));
    return [y, mean, variance];
  }) as unknown as KernelFunc;
}

function gradKernel(kind: BackendKind): KernelFunc {
  return ((args: KernelArgs): TensorInfo[] => {
    const { dy, x, y, bias, gamma, mean, variance } = args.inputs;
    const eps = args.attrs?.epsilon as number;
    const channels = x.shape[x.shape.length - 1];
    const s = storage(kind, args.backend);
    const dx = s.alloc(x.shape);
    const dbias = s.alloc([channels]);
    const dgamma = s.alloc([channels]);
    const dbeta = s.alloc([channels]);
    const simd = runSimd(kind, args.backend, x, (k, at, rows, scratch) =>
      k.bn_relu_backward(at(dy), at(x), at(y), at(bias), at(gamma), at(mean), at(variance), eps, at(dx), at(dbias), at(dgamma), at(dbeta), rows, channels, scratch),
    );
    if (simd) return [dx, dbias, dgamma, dbeta];
    bnReluBackward(
      s.values(dy),
      s.values(x),
      s.values(y),
      s.values(bias),
      s.values(gamma),
      s.values(mean),
      s.values(variance),
      eps,
      s.values(dx),
      s.values(dbias),
      s.values(dgamma),
      s.values(dbeta),
    );
    return [dx, dbias, dgamma, dbeta];
  }) as unknown as KernelFunc;
}

function register(): void {
  for (const kind of BACKENDS) {
    const configs: KernelConfig[] = [
      { kernelName: BN_RELU_TRAIN, backendName: kind, kernelFunc: forwardKernel(kind) },
      { kernelName: BN_RELU_TRAIN_GRAD, backendName: kind, kernelFunc: gradKernel(kind) },
    ];
    for (const config of configs) if (!tf.getKernel(config.kernelName, kind)) tf.registerKernel(config);
  }
  if (!tf.getGradient(BN_RELU_TRAIN)) {
    tf.registerGradient({
      kernelName: BN_RELU_TRAIN,
      inputsToSave: ['x', 'bias', 'gamma'],
      outputsToSave: [true, true, true],
      gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
        const dy = Array.isArray(dys) ? dys[0] : dys;
        const [x, bias, gamma, y, mean, variance] = saved;
        // one kernel gives all four gradients; run it once, eagerly (the backward scope disposes them)
        const [dx, dbias, dgamma, dbeta] = tf
          .engine()
          .runKernel(BN_RELU_TRAIN_GRAD, { dy, x, y, bias, gamma, mean, variance }, attrs) as tf.Tensor[];
        return { x: () => dx, bias: () => dbias, gamma: () => dgamma, beta: () => dbeta };
      },
    });
  }
}

register();

/** True when the active backend runs the fused kernel. */
export function batchNormReluTrainSupported(): boolean {
  return tf.getKernel(BN_RELU_TRAIN, tf.getBackend()) != null;
}

export interface BatchNormReluTrainResult {
  /** relu(batchnorm(z + bias)) */
  y: tf.Tensor4D;
  /** Batch mean of z + bias per channel. */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel. */
  variance: tf.Tensor1D;
}

/** The fused training-mode conv-bias + BatchNorm + ReLU tail, or null when the backend lacks the kernel. */
export function batchNormReluTrain(
  z: tf.Tensor4D,
  bias: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): BatchNormReluTrainResult | null {
  if (!batchNormReluTrainSupported()) return null;
  const [y, mean, variance] = tf.engine().runKernel(BN_RELU_TRAIN, { x: z, bias, gamma, beta }, { epsilon }) as tf.Tensor[];
  return { y: y as tf.Tensor4D, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}
