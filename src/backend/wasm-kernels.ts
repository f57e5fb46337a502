/**
 * Training kernels for tfjs-backend-wasm (docs/architecture.md §1).
 *
 * Stock tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` (a convnet cannot train) and a naive
 * `Conv2DBackpropInput` (8-10x slower than the forward conv). Both gradients are re-expressed here as a
 * single forward `Conv2D`, which the wasm backend runs with XNNPACK's SIMD convolution:
 *
 * - input gradient (transposed convolution, Dumoulin & Visin 2016, "A guide to convolution arithmetic",
 *   sec. 4): dx = conv(dy with s-1 zeros inserted between pixels, filter flipped in space with in/out
 *   channels swapped), stride 1, pad_top' = KH-1-pad_top, pad_bottom' = IH - len(dy') + pad_top.
 * - filter gradient: dW[kh,kw,ci,co] = sum_{n,oh,ow} xpad[n, s*oh+kh, s*ow+kw, ci] * dy[n,oh,ow,co] is a
 *   convolution of x^T (batch = ci, channels = n) with dy^T as a (OH x OW) filter dilated by s (channels
 *   n -> co); its output is [ci, kh, kw, co]. Measured against the im2col alternative (patches^T @ dy with
 *   XNNPACK's fully-connected GEMM) it is 1.1-1.6x faster on every CIFAR VGG-16 layer, so it is the only
 *   formulation used.
 *
 * Both formulations are exact for any stride, kernel size and padding (same / valid / number / explicit,
 * with dimRoundingMode), so there is no separate "generic" path: unsupported are only NCHW data (the wasm
 * Conv2D itself is NHWC-only) and dilation > 1 (tfjs does not differentiate dilated convs either).
 *
 * Sub-kernels are called through their registered wasm kernelFuncs on TensorInfos (the idiom inside
 * tfjs-backend-wasm itself); every intermediate is released with backend.disposeData, so nothing is
 * tracked by the engine and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tileReduceKernelConfigs } from './kernels/tile-reduce';
import { maxPoolGradConfig } from './kernels/maxpool-grad';
import { batchMatMulConfig, transposeLastTwo } from './kernels/matmul-transpose';
import './kernels/batchnorm-relu';
import { CONV_SIMD_PANEL, ConvSimdExports, convSimdFor, heapOffset } from './kernels/conv-simd';

const WASM = 'wasm';

type ConvPad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;
type KernelArgs = { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: NamedAttrMap };

/** Runs registered wasm kernels on TensorInfos and frees every intermediate it produced. */
class WasmKernelScope {
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

function withScope(backend: BackendWasm, body: (s: WasmKernelScope) => TensorInfo): TensorInfo {
  const scope = new WasmKernelScope(backend);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}

/** Conv geometry (tfjs convention: filter [KH, KW, CI, CO], NHWC) of the forward conv being differentiated. */
function forwardConvInfo(
  xShape: number[],
  filterShape: number[],
  attrs: NamedAttrMap,
  kernelName: string,
): backend_util.Conv2DInfo {
  const dataFormat = (attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only, got '${dataFormat}'`);
  }
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as ConvPad,
    attrs.dimRoundingMode as RoundingMode,
    false,
    'channelsLast',
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(`${kernelName} on wasm supports dilation 1 only`);
  }
  return info;
}

/** Explicit padding for the wasm Conv2D kernel (rows/cols; batch and channel pads are zero). */
function explicitPad(top: number, bottom: number, left: number, right: number): backend_util.ExplicitPadding {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/**
 * Crop rows/cols of an NHWC tensor where a computed pad is negative (the forward conv never read
 * those pixels). Returns the (possibly) cropped tensor and non-negative pads.
 */
function cropForNegativePads(
  s: WasmKernelScope,
  x: TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
): { x: TensorInfo; top: number; bottom: number; left: number; right: number } {
  const cutTop = Math.max(0, -pads.top);
  const cutBottom = Math.max(0, -pads.bottom);
  const cutLeft = Math.max(0, -pads.left);
  const cutRight = Math.max(0, -pads.right);
  let out = x;
  if (cutTop + cutBottom + cutLeft + cutRight > 0) {
    const [n, h, w, c] = x.shape;
    out = s.run(
      'Slice',
      { x },
      { begin: [0, cutTop, cutLeft, 0], size: [n, h - cutTop - cutBottom, w - cutLeft - cutRight, c] },
    );
  }
  return {
    x: out,
    top: Math.max(0, pads.top),
    bottom: Math.max(0, pads.bottom),
    left: Math.max(0, pads.left),
    right: Math.max(0, pads.right),
  };
}

/** filter [KH,KW,CI,CO] -> flipped in space, channels swapped: out[kh,kw,co,ci] = w[KH-1-kh, KW-1-kw, ci, co]. */
function flipSwapFilter(s: WasmKernelScope, filter: TensorInfo): TensorInfo {
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
function insertZeros(s: WasmKernelScope, dy: TensorInfo, strideH: number, strideW: number): TensorInfo {
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


/*
 * Stride-1 convolutions on opulab's relaxed-SIMD kernels (kernels/conv-simd.ts, native/conv-simd.c): the
 * forward conv, its input gradient (forward conv of the padded dy with the flipped, channel-swapped filter)
 * and its filter gradient, each as one implicit GEMM over the zero-padded NHWC input. Each returns null when
 * the kernels are off or the case is outside them (stride or dilation != 1, a negative pad, output channels
 * not a multiple of 8), and the caller takes the XNNPACK path.
 */

/** How many convolutions (forward, input or filter gradient) each path ran, for tests and profiles. */
export const convPathCounts = { winograd: 0, direct: 0 };

/** Pads a stride-1 conv needs so that the padded input is exactly (OH + KH - 1) x (OW + KW - 1); null if < 0. */
function stride1Pads(h: number, w: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number) {
  const bottom = oh + kh - 1 - h - top;
  const right = ow + kw - 1 - w - left;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return { top, bottom, left, right };
}

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

/** Zero-pad x for the kernels (returns x itself when no pad is needed). */
function simdPad(s: WasmKernelScope, conv: ConvSimdExports, x: TensorInfo, p: { top: number; bottom: number; left: number; right: number }): TensorInfo {
  if (p.top + p.bottom + p.left + p.right === 0) return x;
  const [n, h, w, c] = x.shape;
  const xp = s.alloc([n, h + p.top + p.bottom, w + p.left + p.right, c]);
  conv.pad_nhwc(s.offset(x), s.offset(xp), n, h, w, c, p.top, p.bottom, p.left, p.right);
  return xp;
}


/**
 * Winograd output tile size: F(4x4,3x3) (36 multiplies per 16 outputs) where the output is at least 8x8, else
 * F(2x2,3x3) (16 per 4). Measured on CIFAR VGG-16 width 1, batch 32: F(4x4) is 1.3-1.4x faster from 8x8 up, but
 * on 4x4 maps (one tile per image, 512 channels) streaming its 36 transformed filter planes makes it slower.
 * `OPULAB_WINOGRAD_TILE=2|4` forces one (tests).
 */
function winogradTile(oh: number, ow: number): 2 | 4 {
  const forced = process.env.OPULAB_WINOGRAD_TILE;
  if (forced === '2' || forced === '4') return forced === '4' ? 4 : 2;
  return Math.min(oh, ow) >= 8 ? 4 : 2;
}

/**
 * How a Winograd call covers the output: tile size m, (m+2)^2 transform planes, TH x TW tiles per image, the pads
 * that make the input exactly (m*T + 2) wide, and the tiles per block. A block's transformed input and output
 * (planes x B x (K + J) floats) should stay in a per-core L2 between the transforms and the GEMMs; measured best
 * near a 1 MB budget (OPULAB_WINO_BLOCK_KB overrides it: tests use a tiny one to exercise many blocks).
 */
function winogradPlan(x: TensorInfo, oh: number, ow: number, info: backend_util.Conv2DInfo, k: number, j: number) {
  const m = winogradTile(oh, ow);
  const planes = (m + 2) * (m + 2);
  const th = Math.ceil(oh / m);
  const tw = Math.ceil(ow / m);
  const [n, h, w] = x.shape;
  const { top, left } = info.padInfo;
  const pads = { top, left, bottom: m * th + 2 - h - top, right: m * tw + 2 - w - left };
  const budget = Number(process.env.OPULAB_WINO_BLOCK_KB ?? 1024) * 1024;
  const b = Math.floor(budget / (planes * 4 * (k + j)));
  const block = Math.max(6, Math.min(n * th * tw, b - (b % 6)));
  convPathCounts.winograd++;
  return { m, planes, th, tw, pads, block };
}

/** act(conv3x3(x, filter) + bias), stride 1, by Winograd F(2x2,3x3) or F(4x4,3x3) (native/conv-simd.c). */
function winogradForward(
  backend: BackendWasm,
  conv: ConvSimdExports,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | null,
  info: backend_util.Conv2DInfo,
  relu: boolean,
  flipSwap: boolean,
  j: number,
): TensorInfo {
  const [n, , , k] = x.shape;
  const { outHeight: oh, outWidth: ow } = info;
  const { m, planes, th, tw, pads, block } = winogradPlan(x, oh, ow, info, k, j);
  return withScope(backend, (s) => {
    const xp = simdPad(s, conv, x, pads);
    const u = s.alloc([planes * k * j]);
    const v = s.alloc([planes * block * k]);
    const mm = s.alloc([planes * block * j]);
    const out = s.alloc([n, oh, ow, j]);
    let g = filter;
    if (flipSwap) {
      g = s.alloc([3, 3, k, j]);
      conv.flip_swap_3x3(s.offset(filter), s.offset(g), k, j);
    }
    conv.winograd_filter(s.offset(g), s.offset(u), k, j, m);
    conv.winograd_forward(
      s.offset(xp), s.offset(u), bias ? s.offset(bias) : 0, s.offset(out), s.offset(v), s.offset(mm),
      n, xp.shape[1], xp.shape[2], k, j, oh, ow, th, tw, relu ? 1 : 0, block, m,
    );
    return out;
  });
}

/** Filter gradient of a stride-1 3x3 conv by Winograd: dW = G^T [sum_tiles V . (A dY A^T)] G. */
function winogradFilterGrad(backend: BackendWasm, conv: ConvSimdExports, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const [n, , , k] = x.shape;
  const [, oh, ow, j] = dy.shape;
  const { m, planes, th, tw, pads, block } = winogradPlan(x, oh, ow, info, k, j);
  return withScope(backend, (s) => {
    const xp = simdPad(s, conv, x, pads);
    const v = s.alloc([planes * block * k]);
    const yh = s.alloc([planes * block * j]);
    const du = s.alloc([planes * k * j]);
    const dw = s.alloc([3, 3, k, j]);
    conv.winograd_filter_grad(
      s.offset(xp), s.offset(dy), s.offset(du), s.offset(v), s.offset(yh),
      n, xp.shape[1], xp.shape[2], k, j, oh, ow, th, tw, block, m,
    );
    conv.winograd_filter_grad_out(s.offset(du), s.offset(dw), k, j, m);
    return dw;
  });
}

/** out = act(conv(x, filter) + bias) for NHWC x and [KH,KW,K,J] filter; or null (use XNNPACK). */
function simdConvForward(
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
function simdConvBackpropInput(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo | null {
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
function simdConvBackpropFilter(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo | null {
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

/** Input gradient of an NHWC conv as one forward conv (see the file comment). */
function conv2dBackpropInputWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const attrs = args.attrs ?? {};
  const { dy, filter } = args.inputs;
  const inputShape = attrs.inputShape as number[];
  const info = forwardConvInfo(inputShape, filter.shape, attrs, 'Conv2DBackpropInput');
  const fast = simdConvBackpropInput(backend, dy, filter, info);
  if (fast) return fast;
  return withScope(backend, (s) => {
    const dyd = insertZeros(s, dy, info.strideHeight, info.strideWidth);
    const top = info.filterHeight - 1 - info.padInfo.top;
    const left = info.filterWidth - 1 - info.padInfo.left;
    const padded = cropForNegativePads(s, dyd, {
      top,
      left,
      bottom: info.inHeight - dyd.shape[1] + info.padInfo.top,
      right: info.inWidth - dyd.shape[2] + info.padInfo.left,
    });
    const w = flipSwapFilter(s, filter);
    return s.run(
      'Conv2D',
      { x: padded.x, filter: w },
      {
        strides: [1, 1],
        dilations: [1, 1],
        pad: explicitPad(padded.top, padded.bottom, padded.left, padded.right),
        dataFormat: 'NHWC',
      },
    );
  });
}

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


/** Conv geometry of a forward Conv2D / FusedConv2D call, or null when the simd kernels cannot take it. */
function forwardGeometry(x: TensorInfo, filter: TensorInfo, attrs: NamedAttrMap): backend_util.Conv2DInfo | null {
  if (((attrs.dataFormat as string | undefined) ?? 'NHWC') !== 'NHWC') return null;
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as ConvPad,
    attrs.dimRoundingMode as RoundingMode,
    false,
    'channelsLast',
  );
}

/** `stock`'s kernel with `fast` tried first; the stock kernel runs whenever `fast` returns null. */
function overStock(stock: KernelConfig, fast: (args: KernelArgs) => TensorInfo | null): KernelConfig {
  return {
    kernelName: stock.kernelName,
    backendName: WASM,
    setupFunc: stock.setupFunc, // binds the stock kernel's wasm entry point at backend init
    kernelFunc: ((args: KernelArgs) => fast(args) ?? stock.kernelFunc(args as Parameters<KernelFunc>[0])) as unknown as KernelFunc,
  };
}

/** Conv2D: the simd kernels for stride-1 cases, the stock XNNPACK kernel otherwise. */
function conv2dConfig(stock: KernelConfig): KernelConfig {
  return overStock(stock, (args) => {
    const { x, filter } = args.inputs;
    const info = forwardGeometry(x, filter, args.attrs ?? {});
    return info && simdConvForward(args.backend as BackendWasm, x, filter, null, info, false);
  });
}

/** FusedConv2D with a linear or relu activation and an optional bias: simd kernels, else stock. */
function fusedConv2dConfig(stock: KernelConfig): KernelConfig {
  return overStock(stock, (args) => {
    const attrs = args.attrs ?? {};
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const activation = (attrs.activation as string | undefined) ?? 'linear';
    const simple = preluActivationWeights == null && (activation === 'linear' || activation === 'relu');
    const info = simple ? forwardGeometry(x, filter, attrs) : null;
    return info && simdConvForward(args.backend as BackendWasm, x, filter, bias ?? null, info, activation === 'relu');
  });
}

const backpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: WASM,
  kernelFunc: conv2dBackpropInputWasm as unknown as KernelFunc,
};

const backpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: WASM,
  kernelFunc: conv2dBackpropFilterWasm as unknown as KernelFunc,
};

const stockKernels = new Map<string, KernelConfig>();
const installed = new Set<KernelFunc>();

function stockKernel(name: string): KernelConfig | undefined {
  if (!stockKernels.has(name)) {
    const current = tf.getKernel(name, WASM);
    if (current && !installed.has(current.kernelFunc)) stockKernels.set(name, current);
  }
  return stockKernels.get(name);
}

/** The kernels this module installs, for callers that need to check or report them. */
export const WASM_TRAINING_KERNELS: readonly string[] = [
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'Tile',
  'Sum',
  'Mean',
  'MaxPoolGrad',
  'BatchMatMul',
  'Conv2D',
  'FusedConv2D',
];

/**
 * Register opulab's wasm training kernels: Conv2DBackpropFilter (missing in stock wasm), a fast
 * Conv2DBackpropInput, faster Tile / Sum / Mean (kernels/tile-reduce.ts) and a one-pass MaxPoolGrad for
 * disjoint pools (kernels/maxpool-grad.ts), BatchMatMul with transposed operands on XNNPACK
 * (kernels/matmul-transpose.ts). Importing this module also registers the fused training
 * BatchNorm+ReLU kernel (kernels/batchnorm-relu.ts).
 * Idempotent; call before or after `tf.setBackend('wasm')`.
 */
export function registerWasmTrainingKernels(): void {
  for (const name of WASM_TRAINING_KERNELS) stockKernel(name); // capture stock versions once
  const configs = [
    backpropInputConfig,
    backpropFilterConfig,
    ...tileReduceKernelConfigs(stockKernel),
    maxPoolGradConfig(stockKernel('MaxPoolGrad')),
  ];
  const stockConv = stockKernel('Conv2D');
  if (stockConv) configs.push(conv2dConfig(stockConv));
  const stockFused = stockKernel('FusedConv2D');
  if (stockFused) configs.push(fusedConv2dConfig(stockFused));
  const stockMatMul = stockKernel('BatchMatMul');
  if (stockMatMul) configs.push(batchMatMulConfig(stockMatMul));
  for (const config of configs) {
    const existing = tf.getKernel(config.kernelName, WASM);
    if (existing && installed.has(existing.kernelFunc)) continue;
    if (existing) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
    installed.add(config.kernelFunc);
  }
}
