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
import { KernelFunc, TensorInfo, util } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelEntry, overStock } from '../kernel-config';
import { transposeLastTwo } from '../wasm/layout';

function transposed(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const rows = t.shape[rank - 2];
  const cols = t.shape[rank - 1];
  const batch = util.sizeFromShape(t.shape.slice(0, -2));
  const out = backend.makeOutput([...t.shape.slice(0, -2), cols, rows], 'float32');
  transposeLastTwo(backend.typedArrayFromHeap(t) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, batch, rows, cols);
  return out;
}

export const batchMatMulKernel: KernelEntry = overStock('BatchMatMul', 'wasm', (args, stock) => {
  const attrs = args.attrs ?? {};
  const { a, b } = args.inputs;
  const ta = attrs.transposeA === true;
  const tb = attrs.transposeB === true;
  if ((!ta && !tb) || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
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
});
