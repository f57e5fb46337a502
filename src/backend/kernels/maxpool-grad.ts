/**
 * Faster wasm `MaxPoolGrad` for non-overlapping pools (window == stride, no padding: VGG's 2x2/2 'valid').
 *
 * The stock wasm kernel visits every dx pixel and scans all windows that could contain it; profiling a
 * VGG-16 input-gradient step showed it at 13% of the step (width 0.25). With disjoint windows each input
 * pixel belongs to at most one window, so one pass over the windows suffices: route dy to the window's
 * argmax and write zeros elsewhere. Ties go to the first maximum in row-major window order, like tfjs's
 * cpu kernel (maxPoolPositions: strict `>`), so results match it exactly. Other geometries use the stock
 * kernel.
 */
import { backend_util, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelEntry, overStock } from '../kernel-config';

/** Pool geometry when the windows tile the input without overlap or padding, else null. */
function disjointPoolInfo(x: TensorInfo, attrs: NamedAttrMap): backend_util.Conv2DInfo | null {
  if (x.dtype !== 'float32' || x.shape.length !== 4) return null;
  const info = backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const p = info.padInfo;
  if (p.top !== 0 || p.left !== 0 || p.bottom !== 0 || p.right !== 0) return null;
  if (info.strideHeight !== info.filterHeight || info.strideWidth !== info.filterWidth) return null;
  if (info.outHeight * info.strideHeight > info.inHeight || info.outWidth * info.strideWidth > info.inWidth) return null;
  return info;
}

/**
 * dx for a disjoint max pool on NHWC float arrays: dx[argmax of window] = dy[window].
 * `x` is the pooled input; `dx` must have x's size.
 */
function disjointMaxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  if (oh * kh !== h || ow * kw !== w) dx.fill(0); // uncovered tail rows/cols get no gradient
  const rowStride = w * c;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const dyOff = ((b * oh + i) * ow + j) * c;
        const base = ((b * h + i * kh) * w + j * kw) * c; // window's top-left pixel
        if (kh === 2 && kw === 2) {
          const o01 = base + c;
          const o10 = base + rowStride;
          const o11 = o10 + c;
          for (let k = 0; k < c; k++) {
            const v00 = x[base + k];
            const v01 = x[o01 + k];
            const v10 = x[o10 + k];
            const v11 = x[o11 + k];
            const g = dy[dyOff + k];
            // same scan as tfjs cpu maxPoolPositions: start at -Infinity, strict '>' (first maximum wins)
            let best = -Infinity;
            let at = -1;
            if (v00 > best) {
              best = v00;
              at = 0;
            }
            if (v01 > best) {
              best = v01;
              at = 1;
            }
            if (v10 > best) {
              best = v10;
              at = 2;
            }
            if (v11 > best) at = 3;
            dx[base + k] = at === 0 ? g : 0;
            dx[o01 + k] = at === 1 ? g : 0;
            dx[o10 + k] = at === 2 ? g : 0;
            dx[o11 + k] = at === 3 ? g : 0;
          }
        } else {
          for (let k = 0; k < c; k++) {
            let best = -Infinity;
            let at = -1;
            for (let r = 0; r < kh; r++) {
              for (let s = 0; s < kw; s++) {
                const o = base + r * rowStride + s * c + k;
                const v = x[o];
                if (v > best) {
                  best = v;
                  at = o;
                }
                dx[o] = 0;
              }
            }
            if (at >= 0) dx[at] = dy[dyOff + k];
          }
        }
      }
    }
  }
}

export const maxPoolGradKernel: KernelEntry = overStock('MaxPoolGrad', 'wasm', (args) => {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs;
  const info = disjointPoolInfo(input, args.attrs ?? {});
  if (!info) return null;
  const out = backend.makeOutput(input.shape, 'float32');
  disjointMaxPoolGrad(
    backend.typedArrayFromHeap(input) as Float32Array,
    backend.typedArrayFromHeap(dy) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array,
    info,
  );
  return out;
});
