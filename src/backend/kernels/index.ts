/**
 * The one list of kernels and gradients opulab registers with tfjs (docs/architecture.md §6, "A kernel"), and
 * `registerKernels()`, which installs them. Nothing registers at import time: src/backend/index.ts calls
 * `registerKernels()` while it sets up a backend.
 *
 * On wasm: Conv2DBackpropFilter (missing in stock tfjs-backend-wasm) and a fast Conv2DBackpropInput, Conv2D and
 * FusedConv2D on opulab's SIMD kernels where they apply, faster Tile / Sum / Mean, a one-pass MaxPoolGrad for
 * disjoint pools, BatchMatMul with transposed operands on XNNPACK. On wasm and cpu: the fused training
 * BatchNorm+ReLU kernel and its gradient kernel. Gradients: the fused BatchNorm+ReLU's, and a relu
 * FusedConv2D's (kernels/fused-conv-relu.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GradConfig, KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { KernelEntry } from '../kernel-config';
import { conv2dBackpropInputKernel } from './conv2d-backprop-input';
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter';
import { tileKernel } from './tile';
import { sumKernel } from './sum';
import { meanKernel } from './mean';
import { maxPoolGradKernel } from './maxpool-grad';
import { batchMatMulKernel } from './batch-matmul';
import { conv2dKernel } from './conv2d';
import { fusedConv2dKernel } from './fused-conv2d';
import { batchNormReluTrainGradient, batchNormReluTrainKernels } from './batchnorm-relu';
import { batchNormReluTrainGradKernels } from './batchnorm-relu-grad';
import { fusedConvReluGradient } from './fused-conv-relu';

/** Every kernel opulab installs, in registration order. */
export const KERNELS: readonly KernelEntry[] = [
  conv2dBackpropInputKernel,
  conv2dBackpropFilterKernel,
  tileKernel,
  sumKernel,
  meanKernel,
  maxPoolGradKernel,
  batchMatMulKernel,
  conv2dKernel,
  fusedConv2dKernel,
  ...batchNormReluTrainKernels,
  ...batchNormReluTrainGradKernels,
];

/** Every gradient opulab registers; one already registered under the same kernel name is left in place. */
const GRADIENTS: readonly GradConfig[] = [batchNormReluTrainGradient, fusedConvReluGradient];

const stockKernels = new Map<string, KernelConfig>();
const installed = new Set<KernelFunc>();

/** The kernel tfjs had under this name before opulab replaced it (captured on first sight), if any. */
function stockKernel(kernelName: string, backendName: string): KernelConfig | undefined {
  const key = `${backendName}/${kernelName}`;
  if (!stockKernels.has(key)) {
    const current = tf.getKernel(kernelName, backendName);
    if (current && !installed.has(current.kernelFunc)) stockKernels.set(key, current);
  }
  return stockKernels.get(key);
}

/**
 * Register every kernel of `KERNELS` (replacing the stock kernel of the same name, which an override keeps as
 * its fallback) and every gradient of `GRADIENTS`. Idempotent; call before or after `tf.setBackend`.
 */
export function registerKernels(): void {
  for (const k of KERNELS) stockKernel(k.kernelName, k.backendName); // capture stock versions once
  for (const k of KERNELS) {
    const config = k.build(stockKernel(k.kernelName, k.backendName));
    if (!config) continue;
    const existing = tf.getKernel(k.kernelName, k.backendName);
    if (existing && installed.has(existing.kernelFunc)) continue;
    if (existing) tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel(config);
    installed.add(config.kernelFunc);
  }
  for (const g of GRADIENTS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
}
