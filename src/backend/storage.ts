/**
 * Float32 storage access for the backends opulab's own (non-stock) kernels run on, wasm and cpu: read an
 * input's values, allocate an output.
 */
import { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The backends opulab's own kernels are registered for. */
export const OWN_KERNEL_BACKENDS = ['wasm', 'cpu'] as const;
export type BackendKind = (typeof OWN_KERNEL_BACKENDS)[number];

/** Float32 storage access for one backend kind: read an input, allocate an output. */
export interface Storage {
  alloc(shape: number[]): TensorInfo;
  values(t: TensorInfo): Float32Array;
}

interface CpuLike {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): TensorInfo;
}

export function storage(kind: BackendKind, backend: unknown): Storage {
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
