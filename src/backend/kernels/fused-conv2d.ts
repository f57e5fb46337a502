/**
 * wasm `FusedConv2D` with a linear or relu activation and an optional bias: opulab's SIMD kernels
 * (src/backend/wasm/simd-conv.ts) for stride-1 cases, the stock kernel otherwise (other activations, PReLU).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelEntry, overStock } from '../kernel-config';
import { forwardGeometry } from '../wasm/conv-geometry';
import { simdConvForward } from '../wasm/simd-conv';

export const fusedConv2dKernel: KernelEntry = overStock('FusedConv2D', 'wasm', (args) => {
  const attrs = args.attrs ?? {};
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const simple = preluActivationWeights == null && (activation === 'linear' || activation === 'relu');
  const info = simple ? forwardGeometry(x, filter, attrs) : null;
  return info && simdConvForward(args.backend as BackendWasm, x, filter, bias ?? null, info, activation === 'relu');
});
