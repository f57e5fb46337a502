/**
 * The backend's hooks for tests, kept out of the production modules' exports: the counters the SIMD paths
 * bump, the flat-array loops of the fused BatchNorm+ReLU kernels (its cpu path), and the names of the kernels
 * installed on wasm.
 */
import { KERNELS } from './kernels';

export { convPathCounts, bnReluSimdCalls } from './wasm/path-counts';
export { bnReluForward } from './kernels/batchnorm-relu';
export { bnReluBackward } from './kernels/batchnorm-relu-grad';

/** The kernels opulab installs on the wasm backend (src/backend/kernels/index.ts). */
export const WASM_TRAINING_KERNELS: readonly string[] = KERNELS.filter((k) => k.backendName === 'wasm').map((k) => k.kernelName);
