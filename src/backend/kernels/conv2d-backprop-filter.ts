/**
 * wasm `Conv2DBackpropFilter` (the filter gradient of an NHWC conv), missing in stock tfjs-backend-wasm 4.22 (a
 * convnet cannot train without it), as one forward `Conv2D` (docs/architecture.md §6).
 *
 * dW[kh,kw,ci,co] = sum_{n,oh,ow} xpad[n, s*oh+kh, s*ow+kw, ci] * dy[n,oh,ow,co] is a convolution of x^T
 * (batch = ci, channels = n) with dy^T as a (OH x OW) filter dilated by s (channels n -> co); its output is
 * [ci, kh, kw, co]. Measured against the im2col alternative (patches^T @ dy with XNNPACK's fully-connected GEMM)
 * it is 1.1-1.6x faster on every CIFAR VGG-16 layer, so it is the only general formulation used. Stride-1 cases
 * run on opulab's SIMD kernels first (src/backend/wasm/simd-conv.ts), and where x is the smaller operand with the
 * roles swapped (`filterGradInputAsFilter`). Exact for any stride, kernel size and padding; unsupported are only
 * NCHW data and dilation > 1.
 */
import { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelArgs, KernelEntry, newKernel } from '../kernel-config';
import { cropForNegativePads, explicitPad, forwardConvInfo } from '../wasm/conv-geometry';
import { withScope } from '../wasm/scope';
import { simdConvBackpropFilter } from '../wasm/simd-conv';

/** Filter gradient of an NHWC conv as one forward conv over the batch axis (see the file comment). */
function conv2dBackpropFilterWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const attrs = args.attrs ?? {};
  const { x, dy } = args.inputs;
  const filterShape = attrs.filterShape as number[];
  const info = forwardConvInfo(x.shape, filterShape, attrs, 'Conv2DBackpropFilter');
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  // Output size from dy itself: tfjs's Conv2D gradient drops dimRoundingMode, so info.outHeight may be off.
  const [, oh, ow] = dy.shape;
  const fast = simdConvBackpropFilter(backend, x, dy, info);
  if (fast) return fast;
  // swapped form when x is the smaller operand and CI still fills XNNPACK's 8-wide output tile (measured
  // at CIFAR VGG-16 width 0.25: 16->32 ch 12.6 -> 10.0 ms, but 3->16 ch 12 -> 20 ms)
  if (sh === 1 && sw === 1 && x.shape[3] < dy.shape[3] && x.shape[3] >= 8) {
    const viaInput = filterGradInputAsFilter(backend, x, dy, info);
    if (viaInput) return viaInput;
  }
  return withScope(backend, (s) => {
    const cropped = cropForNegativePads(s, x, {
      top: info.padInfo.top,
      left: info.padInfo.left,
      bottom: kh - info.inHeight - info.padInfo.top + (oh - 1) * sh,
      right: kw - info.inWidth - info.padInfo.left + (ow - 1) * sw,
    });
    const [n, h, w, ci] = cropped.x.shape;
    const co = dy.shape[3];
    // x [N,H,W,CI] -> [CI,H,W,N] (rank-3 view keeps the wasm transpose on its fast path)
    const xT = s.reshape(s.transpose(s.reshape(cropped.x, [n, h * w, ci]), [2, 1, 0]), [ci, h, w, n]);
    // dy [N,OH,OW,CO] -> [OH,OW,N,CO]
    const dyT = s.reshape(s.transpose(s.reshape(dy, [n, oh * ow, co]), [1, 0, 2]), [oh, ow, n, co]);
    const grad = s.run(
      'Conv2D',
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        dilations: [sh, sw],
        pad: explicitPad(cropped.top, cropped.bottom, cropped.left, cropped.right),
        dataFormat: 'NHWC',
      },
    ); // [CI, KH, KW, CO]
    if (ci === 1) return s.reshape(grad, [kh, kw, ci, co]);
    return s.transpose(grad, [1, 2, 0, 3]);
  });
}

/**
 * Stride-1 filter gradient with the roles swapped: x is the XNNPACK filter and dy the input. XNNPACK
 * re-packs a conv's filter on every call (a new tensor each step), and for these shapes the packing costs
 * about as much as the convolution, so the smaller of x and dy should be the filter; this form is used
 * when 8 <= CI < CO (VGG's channel-doubling layers). With F[u,v,n,ci] = x[n,u,v,ci] and I[co,a,b,n] =
 * dy[n,a,b,co], a stride-1 conv with pads (KH-1-pad_top, H-OH+pad_top) gives
 * out[co, KH-1-kh, KW-1-kw, ci] = sum_{n,oh,ow} dy[n,oh,ow,co] x[n, oh+kh-pad_top, ow+kw-pad_left, ci]
 * = dW[kh,kw,ci,co]. Returns null (caller uses the other form) when a pad would be negative or x is
 * larger than dy spatially.
 */
function filterGradInputAsFilter(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo | null {
  const [n, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const top = kh - 1 - info.padInfo.top;
  const bottom = h - oh + info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const right = w - ow + info.padInfo.left;
  if (Math.min(top, bottom, left, right) < 0) return null;
  // XNNPACK corrupts memory when the kernel (here x's H x W) is larger than the unpadded input (dy's
  // OH x OW; seen with H 9 > OH 7), so this form is kept to OH >= H, OW >= W ('same' padding).
  if (h > oh || w > ow) return null;
  return withScope(backend, (s) => {
    // x [N,H,W,CI] -> [H,W,N,CI]; dy [N,OH,OW,CO] -> [CO,OH,OW,N]
    const f = s.reshape(s.transpose(s.reshape(x, [n, h * w, ci]), [1, 0, 2]), [h, w, n, ci]);
    const inp = s.reshape(s.transpose(s.reshape(dy, [n, oh * ow, co]), [2, 1, 0]), [co, oh, ow, n]);
    const flipped = s.run(
      'Conv2D',
      { x: inp, filter: f },
      { strides: [1, 1], dilations: [1, 1], pad: explicitPad(top, bottom, left, right), dataFormat: 'NHWC' },
    ); // [CO, KH, KW, CI], spatially flipped
    const out = s.alloc([kh, kw, ci, co]);
    const src = s.view(flipped);
    const dst = s.view(out);
    for (let o = 0; o < co; o++) {
      for (let p = 0; p < kh * kw; p++) {
        const so = (o * kh * kw + (kh * kw - 1 - p)) * ci; // flip both spatial axes = reverse tap order
        for (let i = 0; i < ci; i++) dst[(p * ci + i) * co + o] = src[so + i];
      }
    }
    return out;
  });
}

export const conv2dBackpropFilterKernel: KernelEntry = newKernel('Conv2DBackpropFilter', 'wasm', conv2dBackpropFilterWasm);
