/**
 * Backend selection (docs/architecture.md §1): auto picks tensorflow (tfjs-node-gpu or tfjs-node, when
 * loadable) > wasm (with opulab's training kernels) > cpu. The chosen backend is printed once. opulab's kernels
 * and gradients (src/backend/kernels/index.ts) are registered here, before any backend is set.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import './tfjs-gradients';
import { UserError } from '../util/errors';
import { registerKernels } from './kernels';
import { convSimdBuild } from './wasm/conv-simd';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

let announced = false;

/** Try to load a native TensorFlow binding; returns the package name that loaded, or null. */
function loadTensorflowBinding(): string | null {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      require(pkg);
      if (tf.findBackend('tensorflow') || tf.engine().registryFactory['tensorflow']) return pkg;
    } catch {
      // not installed or libtensorflow missing: fall through
    }
  }
  return null;
}

export interface BackendInfo {
  name: string;
  detail: string;
}

/**
 * Initialise the requested backend and return what was chosen. `quiet` suppresses the one-line notice
 * (workers and tests).
 */
export async function initBackend(requested: BackendName | string = 'auto', quiet = false): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(requested as BackendName)) {
    throw new UserError(`unknown backend '${requested}': expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  // PROD silences tfjs's "install the node backend" notice; opulab prints its own backend line below.
  tf.env().set('PROD', true);
  registerKernels();
  let info: BackendInfo;
  if (requested === 'tensorflow' || requested === 'auto') {
    const pkg = loadTensorflowBinding();
    if (pkg && (await tf.setBackend('tensorflow'))) {
      info = { name: 'tensorflow', detail: pkg };
    } else if (requested === 'tensorflow') {
      throw new UserError(
        "backend 'tensorflow' is not available: install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (needs libtensorflow), or use --backend wasm",
      );
    } else {
      info = await useWasm();
    }
  } else if (requested === 'wasm') {
    info = await useWasm();
  } else {
    await tf.setBackend('cpu');
    info = { name: 'cpu', detail: 'pure JavaScript (slow; for tests)' };
  }
  await tf.ready();
  if (!quiet && !announced) {
    announced = true;
    process.stderr.write(`opulab: backend ${info.name} (${info.detail})\n`);
  }
  return info;
}

async function useWasm(): Promise<BackendInfo> {
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new UserError("backend 'wasm' failed to initialise");
  const build = convSimdBuild();
  const convs = build === 'fma' ? 'Winograd/GEMM convolutions with relaxed-SIMD FMA' : build === 'plain' ? 'Winograd/GEMM convolutions, plain SIMD' : 'XNNPACK convolutions';
  return { name: 'wasm', detail: `${convs}, opulab training kernels, 1 thread per worker` };
}

export { tf };
