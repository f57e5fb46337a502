/**
 * wasm `BatchMatMul` with transposeA / transposeB through the fast path.
 *
 * The stock wasm kernel sends a plain matmul to XNNPACK but any transposed operand to a naive loop:
 * measured on [128,2048] x [1024,2048]^T it is ~11x slower than transposing B first and multiplying,
 * and transposeA ~20x. Every matmul gradient (Dense layers, the OPU's backward pass, DFA feedback) uses
 * a transposed operand. Here the transposed operand is materialised with a cache-blocked copy on the wasm
 * heap (per batch matrix), and the stock kernel runs with both flags false. Results are identical up to
 * float summation order.
 */
import { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo, util } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** dst[b, j, i] = src[b, i, j] for `batch` row-major [rows, cols] matrices (exported for tests). */
export function transposeLastTwo(src: Float32Array, dst: Float32Array, batch: number, rows: number, cols: number): void {
  const tile = 32;
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const off = b * size;
    for (let i0 = 0; i0 < rows; i0 += tile) {
      const i1 = Math.min(rows, i0 + tile);
      for (let j0 = 0; j0 < cols; j0 += tile) {
        const j1 = Math.min(cols, j0 + tile);
        for (let i = i0; i < i1; i++) {
          const s = off + i * cols;
          for (let j = j0; j < j1; j++) dst[off + j * rows + i] = src[s + j];
        }
      }
    }
  }
}

function transposed(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const rows = t.shape[rank - 2];
  const cols = t.shape[rank - 1];
  const batch = util.sizeFromShape(t.shape.slice(0, -2));
  const out = backend.makeOutput([...t.shape.slice(0, -2), cols, rows], 'float32');
  transposeLastTwo(backend.typedArrayFromHeap(t) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, batch, rows, cols);
  return out;
}

export function batchMatMulConfig(stock: KernelConfig): KernelConfig {
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const attrs = args.attrs ?? {};
    const { a, b } = args.inputs;
    const ta = attrs.transposeA === true;
    const tb = attrs.transposeB === true;
    if ((!ta && !tb) || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return stock.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    const backend = args.backend as BackendWasm;
    const temps: TensorInfo[] = [];
    try {
      const a2 = ta ? transposed(backend, a) : a;
      if (ta) temps.push(a2);
      const b2 = tb ? transposed(backend, b) : b;
      if (tb) temps.push(b2);
      return stock.kernelFunc({
        inputs: { a: a2, b: b2 },
        backend: args.backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc, setupFunc: stock.setupFunc };
}
