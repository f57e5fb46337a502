/**
 * wasm `Conv2D`: opulab's SIMD kernels (Winograd or implicit GEMM, src/backend/wasm/simd-conv.ts) for stride-1
 * cases, the stock XNNPACK kernel otherwise.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelEntry, overStock } from '../kernel-config';
import { forwardGeometry } from '../wasm/conv-geometry';
import { simdConvForward } from '../wasm/simd-conv';

export const conv2dKernel: KernelEntry = overStock('Conv2D', 'wasm', (args) => {
  const { x, filter } = args.inputs;
  const info = forwardGeometry(x, filter, args.attrs ?? {});
  return info && simdConvForward(args.backend as BackendWasm, x, filter, null, info, false);
});
