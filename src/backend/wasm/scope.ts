/**
 * Running registered wasm kernels inside an opulab kernel (the idiom inside tfjs-backend-wasm itself): sub-kernels
 * are called through their kernelFuncs on TensorInfos, and every intermediate is released with
 * backend.disposeData, so nothing is tracked by the engine and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset } from './conv-simd';

const WASM = 'wasm';

/** Runs registered wasm kernels on TensorInfos and frees every intermediate it produced. */
export class WasmKernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
    const kernel = tf.getKernel(kernelName, WASM);
    if (kernel == null) throw new Error(`wasm kernel '${kernelName}' is not registered`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs }) as TensorInfo;
    this.temps.push(out);
    return out;
  }

  /** A new wasm buffer of the given shape; released with the scope unless kept. */
  alloc(shape: number[]): TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Float32 view of a wasm buffer. Take views only after the last allocation: the heap may grow. */
  view(t: TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(t) as Float32Array;
  }

  /** Byte offset of a wasm buffer in the backend's linear memory (stable when the heap grows). */
  offset(t: TensorInfo): number {
    return heapOffset(this.backend, t);
  }

  /** Removes `t` from the scope so the caller owns it (kernel output: backend refCount stays 1). */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` in a new scope; returns its result (kept) and frees everything else it allocated. */
export function withScope(backend: BackendWasm, body: (s: WasmKernelScope) => TensorInfo): TensorInfo {
  const scope = new WasmKernelScope(backend);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}
