/**
 * Conv geometry for the wasm conv kernels (tfjs convention: filter [KH, KW, CI, CO], NHWC): the forward conv
 * being differentiated, the forward conv a Conv2D / FusedConv2D call asks for, explicit pads, and crops where a
 * computed pad is negative.
 */
import { backend_util, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { WasmKernelScope } from './scope';

export type ConvPad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
export type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

/** Conv geometry (tfjs convention: filter [KH, KW, CI, CO], NHWC) of the forward conv being differentiated. */
export function forwardConvInfo(
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

/** Conv geometry of a forward Conv2D / FusedConv2D call, or null when the simd kernels cannot take it. */
export function forwardGeometry(x: TensorInfo, filter: TensorInfo, attrs: NamedAttrMap): backend_util.Conv2DInfo | null {
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

/** Explicit padding for the wasm Conv2D kernel (rows/cols; batch and channel pads are zero). */
export function explicitPad(top: number, bottom: number, left: number, right: number): backend_util.ExplicitPadding {
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
export function cropForNegativePads(
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

/** Pads a stride-1 conv needs so that the padded input is exactly (OH + KH - 1) x (OW + KW - 1); null if < 0. */
export function stride1Pads(h: number, w: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number) {
  const bottom = oh + kh - 1 - h - top;
  const right = ow + kw - 1 - w - left;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return { top, bottom, left, right };
}
