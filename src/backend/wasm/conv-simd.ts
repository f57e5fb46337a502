/**
 * Loader for opulab's own stride-1 convolution kernels (native/conv-simd.c), instantiated on the tfjs
 * wasm backend's linear memory so they read and write tfjs tensors in place.
 *
 * Why: tfjs-backend-wasm's XNNPACK is built for plain wasm SIMD, which has no fused multiply-add, so every
 * multiply-add is two instructions. The relaxed-SIMD `f32x4.relaxed_madd` lowers to one FMA on x86-64
 * (FMA3) and ARM64, which roughly doubles the peak of the convolution inner loop. Node 20 ships relaxed
 * SIMD behind a V8 flag that can be set at runtime before the module is compiled; newer Node versions
 * have it on by default. When the engine rejects the FMA build, the plain SIMD build is used (about as
 * fast as XNNPACK), and `OPULAB_CONV_KERNELS` selects explicitly:
 *   fma | plain  - that build;  xnnpack - never use these kernels (tfjs's stock path);
 *   auto (default) - fma when the engine accepts it, else xnnpack.
 */
import * as v8 from 'v8';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CONV_SIMD_FMA_WASM, CONV_SIMD_PLAIN_WASM } from './conv-simd-wasm';
import { UserError } from '../../util/errors';

export interface ConvSimdExports {
  pad_nhwc(x: number, xp: number, n: number, h: number, w: number, c: number, pt: number, pb: number, pl: number, pr: number): void;
  pack_filter(w: number, wp: number, taps: number, k: number, j: number, flipSwap: number): void;
  conv_s1_forward(
    xp: number, wp: number, bias: number, out: number,
    n: number, oh: number, ow: number, hp: number, wpad: number, k: number, j: number, kh: number, kw: number, relu: number,
  ): void;
  conv_s1_filter_grad(
    xp: number, dy: number, dw: number,
    n: number, oh: number, ow: number, hp: number, wpad: number, k: number, j: number, kh: number, kw: number,
  ): void;
  flip_swap_3x3(w: number, ws: number, k: number, j: number): void;
  /** The Winograd entry points take the output tile size m: 2 = F(2x2,3x3), 4 = F(4x4,3x3). */
  winograd_filter(w: number, u: number, k: number, j: number, m: number): void;
  winograd_forward(
    xp: number, u: number, bias: number, out: number, v: number, mm: number,
    n: number, hp: number, wpad: number, k: number, j: number, oh: number, ow: number, th: number, tw: number, relu: number, block: number, m: number,
  ): void;
  winograd_filter_grad(
    xp: number, dy: number, du: number, v: number, yh: number,
    n: number, hp: number, wpad: number, k: number, j: number, oh: number, ow: number, th: number, tw: number, block: number, m: number,
  ): void;
  winograd_filter_grad_out(du: number, dw: number, k: number, j: number, m: number): void;
  bn_relu_forward(
    z: number, bias: number, gamma: number, beta: number, eps: number, y: number, mean: number, variance: number,
    rows: number, c: number, scratch: number,
  ): void;
  bn_relu_backward(
    dy: number, z: number, y: number, bias: number, gamma: number, mean: number, variance: number, eps: number,
    dz: number, dbias: number, dgamma: number, dbeta: number, rows: number, c: number, scratch: number,
  ): void;
}

/** The slice of the WebAssembly JS API used here (the project compiles without the DOM typings). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export type ConvKernelChoice = 'auto' | 'fma' | 'plain' | 'xnnpack';
export type ConvSimdBuild = 'fma' | 'plain';

/** The output channels of one register tile: the kernels need J % PANEL == 0. */
export const CONV_SIMD_PANEL = 8;

function requestedChoice(): ConvKernelChoice {
  const v = (process.env.OPULAB_CONV_KERNELS ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'fma' || v === 'plain' || v === 'xnnpack') return v;
  throw new UserError(`OPULAB_CONV_KERNELS='${v}': expected auto, fma, plain or xnnpack`);
}

let fmaModule: object | null | undefined;
let plainModule: object | undefined;

function compileFma(): object | null {
  if (fmaModule !== undefined) return fmaModule;
  const bytes = Buffer.from(CONV_SIMD_FMA_WASM, 'base64');
  if (!WA.validate(bytes)) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // flag unknown to this engine: validation below decides
    }
  }
  fmaModule = WA.validate(bytes) ? new WA.Module(bytes) : null;
  return fmaModule;
}

function compilePlain(): object {
  plainModule ??= new WA.Module(Buffer.from(CONV_SIMD_PLAIN_WASM, 'base64'));
  return plainModule;
}

/** Which build `auto` and the environment resolve to on this engine (null: stock XNNPACK). */
export function convSimdBuild(): ConvSimdBuild | null {
  const choice = requestedChoice();
  if (choice === 'xnnpack') return null;
  if (choice === 'plain') return 'plain';
  if (compileFma()) return 'fma';
  if (choice === 'fma') throw new UserError('OPULAB_CONV_KERNELS=fma: this JavaScript engine does not support relaxed SIMD (use auto, plain or xnnpack)');
  return null;
}

interface EmscriptenWasm {
  asm?: { memory?: WasmMemory };
  wasmMemory?: WasmMemory;
}

const instances = new WeakMap<WasmMemory, { build: ConvSimdBuild; exports: ConvSimdExports }>();

/** Byte offset of a wasm tensor in the backend's heap: what the kernels take as a pointer (stable when the heap grows). */
export function heapOffset(backend: BackendWasm, t: { dataId: object }): number {
  return (backend.dataIdMap.get(t.dataId) as { memoryOffset: number }).memoryOffset;
}

/** The kernels bound to this backend's memory, or null when the stock path is to be used. */
export function convSimdFor(backend: BackendWasm): ConvSimdExports | null {
  const build = convSimdBuild();
  if (build == null) return null;
  const wasm = backend.wasm as unknown as EmscriptenWasm;
  const memory = wasm.asm?.memory ?? wasm.wasmMemory;
  if (!memory || !(memory instanceof WA.Memory)) return null;
  let entry = instances.get(memory);
  if (!entry || entry.build !== build) {
    const mod = build === 'fma' ? compileFma()! : compilePlain();
    const instance = new WA.Instance(mod, { env: { memory } });
    entry = { build, exports: instance.exports as unknown as ConvSimdExports };
    instances.set(memory, entry);
  }
  return entry.exports;
}
