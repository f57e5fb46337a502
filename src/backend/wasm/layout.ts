/** Layout copies on the wasm heap used by the conv gradient kernels and BatchMatMul. */
import { TensorInfo } from '@tensorflow/tfjs-core';
import { WasmKernelScope } from './scope';

/** dst[b, j, i] = src[b, i, j] for `batch` row-major [rows, cols] matrices. */
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

/** filter [KH,KW,CI,CO] -> flipped in space, channels swapped: out[kh,kw,co,ci] = w[KH-1-kh, KW-1-kw, ci, co]. */
export function flipSwapFilter(s: WasmKernelScope, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const out = s.alloc([kh, kw, co, ci]);
  const src = s.view(filter);
  const dst = s.view(out);
  const block = ci * co;
  for (let p = 0; p < kh * kw; p++) {
    const so = (kh * kw - 1 - p) * block; // spatial flip = reversed block order
    transposeLastTwo(src.subarray(so, so + block), dst.subarray(p * block, (p + 1) * block), 1, ci, co);
  }
  return out;
}

/** dy [N,OH,OW,C] -> [N, s*(OH-1)+1, s*(OW-1)+1, C] with (s-1) zero rows/cols between pixels. */
export function insertZeros(s: WasmKernelScope, dy: TensorInfo, strideH: number, strideW: number): TensorInfo {
  if (strideH === 1 && strideW === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const lh = strideH * (oh - 1) + 1;
  const lw = strideW * (ow - 1) + 1;
  const out = s.alloc([n, lh, lw, c]);
  const src = s.view(dy);
  const dst = s.view(out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const so = ((b * oh + i) * ow + j) * c;
        const d = ((b * lh + i * strideH) * lw + j * strideW) * c;
        dst.set(src.subarray(so, so + c), d);
      }
    }
  }
  return out;
}
