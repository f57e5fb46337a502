/**
 * Faster wasm `Tile` for the shapes BatchNorm training produces.
 *
 * Profiling one VGG-16 training step on stock wasm showed tfjs's FusedBatchNorm gradient spending more
 * time in `Tile` (broadcasting [1,1,1,C] statistics to [N,H,W,C]) than in all convolutions. Here Tile copies
 * the input's innermost rows once and replicates finished blocks with `copyWithin` doubling (memmove), so
 * [1,1,1,C] -> [N,H,W,C] is one row copy plus log2(NHW) block copies. It replaces the stock kernel for every
 * input but strings.
 */
import { TensorInfo, util } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelArgs, KernelEntry, newKernel } from '../kernel-config';

type HeapArray = Float32Array | Int32Array | Uint8Array;

function heap(backend: BackendWasm, t: TensorInfo): HeapArray {
  return backend.typedArrayFromHeap(t) as HeapArray;
}

/** Fill dst[0..count*block) with `count` copies of dst[0..block) by doubling. */
function replicate(dst: HeapArray, start: number, block: number, count: number): void {
  let filled = block;
  const total = block * count;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    dst.copyWithin(start + filled, start, start + n);
    filled += n;
  }
}

function tileWasm(args: KernelArgs): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs;
  const reps = (args.attrs?.reps as number[]) ?? [];
  const rank = x.shape.length;
  if (x.dtype === 'string' || reps.length !== rank) {
    throw new Error(`Tile on wasm: unsupported input (dtype ${x.dtype}, reps ${reps} for rank ${rank})`);
  }
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  if (rank === 0) {
    heap(backend, out).set(heap(backend, x));
    return out;
  }
  const src = heap(backend, x);
  const dst = heap(backend, out);
  const srcStrides = util.computeStrides(x.shape);
  const dstStrides = util.computeStrides(outShape);
  const last = rank - 1;
  // Writes the tile of dimension `dim` starting at the given offsets, then replicates it reps[dim] times.
  const fill = (dim: number, srcOff: number, dstOff: number): void => {
    if (dim === last) {
      const row = x.shape[last];
      dst.set(src.subarray(srcOff, srcOff + row) as never, dstOff);
      replicate(dst, dstOff, row, reps[last]);
      return;
    }
    const sStride = srcStrides[dim];
    const dStride = dstStrides[dim];
    for (let i = 0; i < x.shape[dim]; i++) fill(dim + 1, srcOff + i * sStride, dstOff + i * dStride);
    replicate(dst, dstOff, x.shape[dim] * dStride, reps[dim]);
  };
  fill(0, 0, 0);
  return out;
}

export const tileKernel: KernelEntry = newKernel('Tile', 'wasm', tileWasm);
