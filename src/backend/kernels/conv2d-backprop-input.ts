/**
 * wasm `Conv2DBackpropInput` (the input gradient of an NHWC conv) as one forward `Conv2D` (docs/architecture.md §6).
 *
 * Stock tfjs-backend-wasm 4.22 has a naive Conv2DBackpropInput (8-10x slower than the forward conv). Here it is a
 * transposed convolution (Dumoulin & Visin 2016, "A guide to convolution arithmetic", sec. 4):
 * dx = conv(dy with s-1 zeros inserted between pixels, filter flipped in space with in/out channels swapped),
 * stride 1, pad_top' = KH-1-pad_top, pad_bottom' = IH - len(dy') + pad_top, run by opulab's SIMD kernels for
 * stride 1 (src/backend/wasm/simd-conv.ts) and otherwise by the wasm Conv2D kernel (XNNPACK). Exact for any
 * stride, kernel size and padding (same / valid / number / explicit, with dimRoundingMode); unsupported are only
 * NCHW data (the wasm Conv2D itself is NHWC-only) and dilation > 1 (tfjs does not differentiate dilated convs
 * either).
 */
import { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelArgs, KernelEntry, newKernel } from '../kernel-config';
import { cropForNegativePads, explicitPad, forwardConvInfo } from '../wasm/conv-geometry';
import { flipSwapFilter, insertZeros } from '../wasm/layout';
import { withScope } from '../wasm/scope';
import { simdConvBackpropInput } from '../wasm/simd-conv';

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

export const conv2dBackpropInputKernel: KernelEntry = newKernel('Conv2DBackpropInput', 'wasm', conv2dBackpropInputWasm);
