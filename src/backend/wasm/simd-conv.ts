/**
 * Stride-1 convolutions on opulab's relaxed-SIMD kernels (wasm/conv-simd.ts, native/conv-simd.c): the
 * forward conv, its input gradient (forward conv of the padded dy with the flipped, channel-swapped filter)
 * and its filter gradient, each as one implicit GEMM over the zero-padded NHWC input, or by Winograd
 * (wasm/winograd.ts) for 3x3 filters. Each returns null when the kernels are off or the case is outside them
 * (stride or dilation != 1, a negative pad, output channels not a multiple of 8), and the caller takes the
 * XNNPACK path.
 */
import { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CONV_SIMD_PANEL, convSimdFor } from './conv-simd';
import { stride1Pads } from './conv-geometry';
import { withScope } from './scope';
import { simdPad, winogradFilterGrad, winogradForward } from './winograd';
import { convPathCounts } from './path-counts';

function eligible(info: backend_util.Conv2DInfo, outChannels: number): boolean {
  return (
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    outChannels % CONV_SIMD_PANEL === 0 &&
    info.batchSize * info.outHeight * info.outWidth > 0
  );
}

/** out = act(conv(x, filter) + bias) for NHWC x and [KH,KW,K,J] filter; or null (use XNNPACK). */
export function simdConvForward(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | null,
  info: backend_util.Conv2DInfo,
  relu: boolean,
  flipSwap = false,
): TensorInfo | null {
  const conv = convSimdFor(backend);
  const [kh, kw] = filter.shape;
  const k = x.shape[3];
  const j = flipSwap ? filter.shape[2] : filter.shape[3];
  if (!conv || !eligible(info, j)) return null;
  const [n, h, w] = x.shape;
  const { outHeight: oh, outWidth: ow } = info;
  const pads = stride1Pads(h, w, oh, ow, kh, kw, info.padInfo.top, info.padInfo.left);
  if (!pads) return null;
  if (kh === 3 && kw === 3 && k % 4 === 0) return winogradForward(backend, conv, x, filter, bias, info, relu, flipSwap, j);
  convPathCounts.direct++;
  return withScope(backend, (s) => {
    const xp = simdPad(s, conv, x, pads);
    const packed = s.alloc([Math.ceil(j / CONV_SIMD_PANEL) * kh * kw * k * CONV_SIMD_PANEL]);
    conv.pack_filter(s.offset(filter), s.offset(packed), kh * kw, k, j, flipSwap ? 1 : 0);
    const out = s.alloc([n, oh, ow, j]);
    conv.conv_s1_forward(
      s.offset(xp), s.offset(packed), bias ? s.offset(bias) : 0, s.offset(out),
      n, oh, ow, xp.shape[1], xp.shape[2], k, j, kh, kw, relu ? 1 : 0,
    );
    return out;
  });
}

/** Input gradient of a stride-1 conv: conv(pad(dy), flipped and swapped filter); or null. */
export function simdConvBackpropInput(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo | null {
  const [kh, kw] = filter.shape;
  // the transposed conv as a forward conv over dy: output = the forward input's geometry
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const geometry = {
    ...info,
    batchSize: dy.shape[0],
    outHeight: info.inHeight,
    outWidth: info.inWidth,
    padInfo: { ...info.padInfo, top, left },
  } as backend_util.Conv2DInfo;
  return simdConvForward(backend, dy, filter, null, geometry, false, true);
}

/** Filter gradient of a stride-1 conv as one implicit GEMM over the padded x; or null. */
export function simdConvBackpropFilter(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo | null {
  const conv = convSimdFor(backend);
  const [n, h, w, k] = x.shape;
  const [, oh, ow, j] = dy.shape;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const geometry = { ...info, outHeight: oh, outWidth: ow } as backend_util.Conv2DInfo;
  if (!conv || !eligible(geometry, j)) return null;
  const pads = stride1Pads(h, w, oh, ow, kh, kw, info.padInfo.top, info.padInfo.left);
  if (!pads) return null;
  if (kh === 3 && kw === 3 && k % 4 === 0) return winogradFilterGrad(backend, conv, x, dy, info);
  convPathCounts.direct++;
  return withScope(backend, (s) => {
    const xp = simdPad(s, conv, x, pads);
    const dw = s.alloc([kh, kw, k, j]);
    conv.conv_s1_filter_grad(s.offset(xp), s.offset(dy), s.offset(dw), n, oh, ow, xp.shape[1], xp.shape[2], k, j, kh, kw);
    return dw;
  });
}
