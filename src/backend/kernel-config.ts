/**
 * What every opulab kernel shares (docs/architecture.md §6, "A kernel"): the arguments tfjs passes a kernel
 * function, the entry each kernel file exports for the registration list (src/backend/kernels/index.ts), and
 * the one fast-path-else-stock wrapper used by every kernel that speeds up a case of a stock kernel.
 */
import { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The arguments tfjs passes a kernel function (tfjs's own type, with the backend left opaque). */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** A kernel function written against `KernelArgs`, as the KernelFunc tfjs registers. */
function asKernelFunc(fn: (args: KernelArgs) => TensorInfo | TensorInfo[]): KernelFunc {
  return fn as unknown as KernelFunc;
}

/**
 * One entry of the registration list: the kernel name and backend it installs, and how to build its config
 * from the stock kernel tfjs had under that name (captured once, before opulab replaced it; undefined when
 * there was none). `build` returns null when the kernel cannot be installed (it wraps a stock kernel that is
 * missing).
 */
export interface KernelEntry {
  kernelName: string;
  backendName: string;
  build(stock: KernelConfig | undefined): KernelConfig | null;
}

/** An entry for a kernel that needs no stock kernel. */
export function newKernel(kernelName: string, backendName: string, fn: (args: KernelArgs) => TensorInfo | TensorInfo[]): KernelEntry {
  return { kernelName, backendName, build: () => ({ kernelName, backendName, kernelFunc: asKernelFunc(fn) }) };
}

/**
 * An entry for `kernelName` on `backendName` that tries `fast` first and runs the stock kernel whenever `fast`
 * returns null (`fast` may call the stock kernel itself, with other arguments). The stock kernel's setupFunc is
 * kept (it binds the stock kernel's wasm entry point at backend init). Not installed when there is no stock
 * kernel to fall back to.
 */
export function overStock(
  kernelName: string,
  backendName: string,
  fast: (args: KernelArgs, stock: KernelConfig) => TensorInfo | null,
): KernelEntry {
  return {
    kernelName,
    backendName,
    build: (stock) =>
      stock
        ? {
            kernelName,
            backendName,
            setupFunc: stock.setupFunc,
            kernelFunc: asKernelFunc((args) => fast(args, stock) ?? (stock.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo)),
          }
        : null,
  };
}
