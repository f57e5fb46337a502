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
 * This file has the forward kernel (registered for wasm and cpu), its gradient (one call of the gradient
 * kernel, batchnorm-relu-grad.ts) and the op: `batchNormReluTrain` runs the kernel when the active backend has
 * it and returns null otherwise (the caller keeps its op-by-op path, e.g. on tfjs-node).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GradConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { KernelArgs, KernelEntry, newKernel } from '../kernel-config';
import { BackendKind, OWN_KERNEL_BACKENDS, storage } from '../storage';
import { runSimd } from '../wasm/bn-relu-simd';

export const BN_RELU_TRAIN = 'OpulabBatchNormReluTrain';
export const BN_RELU_TRAIN_GRAD = 'OpulabBatchNormReluTrainGrad';

function checkFloat(t: TensorInfo, name: string, channels?: number): void {
  if (t.dtype !== 'float32') throw new Error(`${BN_RELU_TRAIN}: ${name} must be float32, got ${t.dtype}`);
  if (channels !== undefined && (t.shape.length !== 1 || t.shape[0] !== channels)) {
    throw new Error(`${BN_RELU_TRAIN}: ${name} of shape [${t.shape}], expected [${channels}]`);
  }
}

/** Forward pass on flat arrays (the cpu path; exported for src/backend/testing.ts): fills y, mean, variance; z is [rows, C]. */
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

function forwardKernel(kind: BackendKind) {
  return (args: KernelArgs): TensorInfo[] => {
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
  };
}

/** The forward kernel, on wasm and on cpu. */
export const batchNormReluTrainKernels: readonly KernelEntry[] = OWN_KERNEL_BACKENDS.map((kind) =>
  newKernel(BN_RELU_TRAIN, kind, forwardKernel(kind)),
);

/** Its gradient: the statistics outputs are not differentiated; one gradient-kernel call gives all four. */
export const batchNormReluTrainGradient: GradConfig = {
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
};

/** True when the active backend runs the fused kernel. */
function batchNormReluTrainSupported(): boolean {
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
