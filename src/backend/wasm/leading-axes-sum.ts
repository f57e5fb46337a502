/**
 * Sum / mean over the leading axes of a float32 wasm tensor, the per-channel reductions over [0,1,2] that
 * BatchNorm training produces: rows of the [outer, inner] view accumulate directly (Float64 accumulators),
 * where the stock kernels first transpose the whole activation.
 */
import { NamedAttrMap, TensorInfo, util } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Leading-axes reduction [outer, inner] -> [inner] of a float32 tensor, or null when not applicable. */
export function leadingAxesSum(backend: BackendWasm, x: TensorInfo, attrs: NamedAttrMap, divideByCount: boolean): TensorInfo | null {
  if (x.dtype !== 'float32') return null;
  const rank = x.shape.length;
  const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k >= rank || axes.some((a, i) => a !== i)) return null;
  const outer = util.sizeFromShape(x.shape.slice(0, k));
  const inner = util.sizeFromShape(x.shape.slice(k));
  const outShape = attrs.keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const acc = new Float64Array(inner);
  for (let r = 0; r < outer; r++) {
    const off = r * inner;
    for (let c = 0; c < inner; c++) acc[c] += src[off + c];
  }
  const scale = divideByCount ? 1 / outer : 1;
  for (let c = 0; c < inner; c++) dst[c] = acc[c] * scale;
  return out;
}
