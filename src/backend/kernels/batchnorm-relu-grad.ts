/**
 * The gradient kernel of the fused training BatchNorm + ReLU (batchnorm-relu.ts has the formulas), for the
 * wasm and cpu backends: dz and the per-channel gradients dbias (exact zeros), dgamma, dbeta in 2 passes,
 * on opulab's SIMD loop (bn_relu_backward in native/conv-simd.c) on wasm with channels a multiple of 4, else
 * the JavaScript loop below.
 */
import { TensorInfo } from '@tensorflow/tfjs-core';
import { KernelArgs, KernelEntry, newKernel } from '../kernel-config';
import { BackendKind, OWN_KERNEL_BACKENDS, storage } from '../storage';
import { runSimd } from '../wasm/bn-relu-simd';
import { BN_RELU_TRAIN_GRAD } from './batchnorm-relu';

/** Backward pass on flat arrays (the cpu path; exported for src/backend/testing.ts): fills dz and the per-channel gradients. */
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

function gradKernel(kind: BackendKind) {
  return (args: KernelArgs): TensorInfo[] => {
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
  };
}

/** The gradient kernel, on wasm and on cpu. */
export const batchNormReluTrainGradKernels: readonly KernelEntry[] = OWN_KERNEL_BACKENDS.map((kind) =>
  newKernel(BN_RELU_TRAIN_GRAD, kind, gradKernel(kind)),
);
