/**
 * Faster wasm `Mean` over the leading axes of a float32 tensor (src/backend/wasm/leading-axes-sum.ts); any
 * other axis set or dtype goes to the stock kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelEntry, overStock } from '../kernel-config';
import { leadingAxesSum } from '../wasm/leading-axes-sum';

export const meanKernel: KernelEntry = overStock('Mean', 'wasm', (args) =>
  leadingAxesSum(args.backend as BackendWasm, args.inputs.x, args.attrs ?? {}, true),
);
