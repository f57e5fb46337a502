/**
 * Winograd dispatch for stride-1 3x3 convolutions on opulab's relaxed-SIMD kernels (native/conv-simd.c,
 * Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"): the forward conv (also the input
 * gradient, with the flipped, channel-swapped filter) and the filter gradient; and `simdPad`, the zero padding
 * both these and the direct kernels (simd-conv.ts) run on.
 */
import { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ConvSimdExports } from './conv-simd';
import { WasmKernelScope, withScope } from './scope';
import { convPathCounts } from './path-counts';

/** Zero-pad x for the kernels (returns x itself when no pad is needed). */
export function simdPad(s: WasmKernelScope, conv: ConvSimdExports, x: TensorInfo, p: { top: number; bottom: number; left: number; right: number }): TensorInfo {
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
export function winogradForward(
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
export function winogradFilterGrad(backend: BackendWasm, conv: ConvSimdExports, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
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
