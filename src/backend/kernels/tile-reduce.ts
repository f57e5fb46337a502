/**
 * Faster wasm `Tile`, `Sum` and `Mean` for the shapes BatchNorm training produces.
 *
 * Profiling one VGG-16 training step on stock wasm showed tfjs's FusedBatchNorm gradient spending more
 * time in `Tile` (broadcasting [1,1,1,C] statistics to [N,H,W,C]) than in all convolutions, and the
 * per-channel reductions over the leading axes [0,1,2] (`Sum`, `Mean`) first transposing the whole
 * activation. Here:
 * - Tile copies the input's innermost rows once and replicates finished blocks with `copyWithin`
 *   doubling (memmove), so [1,1,1,C] -> [N,H,W,C] is one row copy plus log2(NHW) block copies.
 * - Sum/Mean over leading axes of a float32 tensor accumulate rows of the [outer, inner] view directly
 *   (Float64 accumulators); any other axis set goes to the stock kernel.
 */
import { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo, util } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}

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

function tileKernel(args: KernelArgs): TensorInfo {
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

/** Leading-axes reduction [outer, inner] -> [inner] of a float32 tensor, or null when not applicable. */
function leadingAxesSum(backend: BackendWasm, x: TensorInfo, attrs: NamedAttrMap, divideByCount: boolean): TensorInfo | null {
  if (x.dtype !== 'float32') return null;
  const rank = x.shape.length;
  const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k >= rank || axes.some((a, i) => a !== i)) return null;
  const outer = util.sizeFromShape(x.shape.slice(0, k));
  const inner = util.sizeFromShape(x.shape.slice(k));
  const outShape = attrs.keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const src = heap(backend, x) as Float32Array;
  const dst = heap(backend, out) as Float32Array;
  const acc = new Float64Array(inner);
  for (let r = 0; r < outer; r++) {
    const off = r * inner;
    for (let c = 0; c < inner; c++) acc[c] += src[off + c];
  }
  const scale = divideByCount ? 1 / outer : 1;
  for (let c = 0; c < inner; c++) dst[c] = acc[c] * scale;
  return out;
}

function reductionConfig(kernelName: 'Sum' | 'Mean', stock: KernelConfig): KernelConfig {
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const fast = leadingAxesSum(args.backend as BackendWasm, args.inputs.x, args.attrs ?? {}, kernelName === 'Mean');
    return fast ?? (stock.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo);
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc, setupFunc: stock.setupFunc };
}

const tileConfig: KernelConfig = {
  kernelName: 'Tile',
  backendName: 'wasm',
  kernelFunc: tileKernel as unknown as KernelFunc,
};

/** Replacement configs for Tile, Sum and Mean; the reductions wrap (and fall back to) the stock kernels. */
export function tileReduceKernelConfigs(stock: (name: string) => KernelConfig | undefined): KernelConfig[] {
  const configs: KernelConfig[] = [tileConfig];
  for (const name of ['Sum', 'Mean'] as const) {
    const original = stock(name);
    if (original) configs.push(reductionConfig(name, original));
  }
  return configs;
}
