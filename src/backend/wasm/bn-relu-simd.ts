/** The BatchNorm+ReLU SIMD loops (bn_relu_forward / bn_relu_backward in native/conv-simd.c) on the wasm backend. */
import { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ConvSimdExports, convSimdFor, heapOffset } from './conv-simd';
import { BackendKind } from '../storage';
import { bnReluSimdCalls } from './path-counts';

/**
 * Run one of the SIMD loops (bn_relu_forward / bn_relu_backward) when the kernel runs on wasm with channels a
 * multiple of 4: `call` gets the kernels, a tensor -> heap offset function, the row count and the offset of a
 * 7 * channels float scratch buffer. Returns false when the JavaScript loops must run instead.
 */
export function runSimd(
  kind: BackendKind,
  backend: unknown,
  x: TensorInfo,
  call: (simd: ConvSimdExports, at: (t: TensorInfo) => number, rows: number, scratch: number) => void,
): boolean {
  const channels = x.shape[x.shape.length - 1];
  const simd = kind === 'wasm' && channels % 4 === 0 ? convSimdFor(backend as BackendWasm) : null;
  if (!simd) return false;
  const b = backend as BackendWasm;
  const scratch = b.makeOutput([7 * channels], 'float32');
  const at = (t: TensorInfo) => heapOffset(b, t);
  bnReluSimdCalls.count++;
  try {
    call(simd, at, x.shape.reduce((a, d) => a * d, 1) / channels, at(scratch));
  } finally {
    b.disposeData(scratch.dataId);
  }
  return true;
}
