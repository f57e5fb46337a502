/**
 * ONNX Runtime sessions, run synchronously. The Classifier seam is synchronous (attacks call `logits` and
 * `lossAndGradient` and use the tensors at once), so the engine talks to onnxruntime-node's native binding, whose
 * `run` is synchronous (the package's public `InferenceSession.run` only wraps it in a Promise). The binding path
 * is pinned with the package version (~1.30).
 *
 * Execution providers: CPU always; `OPULAB_ORT_DEVICE=cuda` (or `deviceFromEnv`) asks for the CUDA provider first,
 * which works only where the user installed it (README: GPU); the chosen device is printed once.
 */
import { availableCores } from '../util/cores';
import { isMainThread } from 'worker_threads';
import { UserError } from '../util/errors';

/** The value objects the binding takes and returns (onnxruntime-common's Tensor, structurally). */
interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

interface OrtTensorConstructor {
  new (type: 'float32', data: Float32Array, dims: readonly number[]): OrtTensorLike;
}

interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, OrtTensorLike>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, OrtTensorLike>;
  readonly outputMetadata: { name: string }[];
  endProfiling(): void;
  dispose(): void;
}

interface BindingModule {
  binding: {
    InferenceSession: new () => BindingSession;
    listSupportedBackends: () => { name: string; bundled: boolean }[];
    initOrtOnce: (logLevel: number, tensor: OrtTensorConstructor, isMainThread: boolean) => void;
  };
}

/** What the binding constructs for each output: (type, data, dims). */
class PlainTensor implements OrtTensorLike {
  constructor(
    readonly type: string,
    readonly data: unknown,
    readonly dims: readonly number[],
  ) {}
}

let loaded: { binding: BindingModule } | null = null;
let loadError: string | null = null;

/** The native binding, or null with the reason in `ortUnavailableReason()`. */
function ort(): { binding: BindingModule } | null {
  if (loaded || loadError) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const binding = require('onnxruntime-node/dist/binding') as BindingModule;
    // Outputs are built with a plain value class (not onnxruntime-common's Tensor, whose constructor rejects typed
    // arrays of another realm): log level 3 = errors only.
    binding.binding.initOrtOnce(3, PlainTensor as unknown as OrtTensorConstructor, isMainThread);
    loaded = { binding };
  } catch (e) {
    loadError = e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
  return loaded;
}

/** True when onnxruntime-node loads on this machine. */
export function ortAvailable(): boolean {
  return ort() !== null;
}

export function ortUnavailableReason(): string | null {
  ort();
  return loadError;
}

export type OrtDevice = 'cpu' | 'cuda';

/** The device asked for by OPULAB_ORT_DEVICE (cpu by default). */
export function deviceFromEnv(): OrtDevice {
  const v = process.env.OPULAB_ORT_DEVICE ?? 'cpu';
  if (v !== 'cpu' && v !== 'cuda') throw new UserError(`bad OPULAB_ORT_DEVICE '${v}': expected cpu or cuda`);
  return v;
}

let deviceAnnounced = false;

export interface SessionOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  device?: OrtDevice;
  /** Print the device once per process (default true). */
  announce?: boolean;
  /** Write ONNX Runtime's per-operator profile (JSON) to files starting with this prefix (see endProfiling). */
  profilePrefix?: string;
}

/** One ONNX Runtime session over a serialized model; `dispose()` releases its native memory. */
export class OrtSession {
  private session: BindingSession | null;
  private readonly outputs: string[];
  readonly device: OrtDevice;

  constructor(bytes: Uint8Array, opts: SessionOptions = {}) {
    const lib = ort();
    if (!lib) throw new UserError(`ONNX Runtime is not available (${loadError}): use --engine tfjs`);
    const device = opts.device ?? deviceFromEnv();
    const threads = opts.threads ?? availableCores();
    if (!Number.isInteger(threads) || threads < 1) throw new UserError(`bad ONNX Runtime thread count ${threads}: expected a positive integer`);
    const options: Record<string, unknown> = {
      executionProviders: device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      logSeverityLevel: 3,
      // Idle intra-op threads sleep instead of spinning (OPULAB_ORT_SPIN=1 restores spinning): on a shared or
      // oversubscribed machine spinning threads steal the cores the other workers need.
      extra: { session: { intra_op: { allow_spinning: process.env.OPULAB_ORT_SPIN === '1' ? '1' : '0' } } },
    };
    if (opts.profilePrefix) Object.assign(options, { enableProfiling: true, profileFilePrefix: opts.profilePrefix });
    const s = new lib.binding.binding.InferenceSession();
    try {
      s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, options);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (device === 'cuda') throw new UserError(`ONNX Runtime could not start the CUDA provider (${msg.split('\n')[0]}): install it (README: GPU) or unset OPULAB_ORT_DEVICE`);
      throw e;
    }
    this.session = s;
    this.device = device;
    this.outputs = s.outputMetadata.map((m) => m.name);
    if ((opts.announce ?? true) && !deviceAnnounced) {
      deviceAnnounced = true;
      process.stderr.write(`onnxruntime: device ${device}${device === 'cuda' ? ' (CUDA provider, CPU fallback)' : ''}, ${threads} intra-op thread${threads === 1 ? '' : 's'}\n`);
    }
  }

  /** Run with float32 feeds ({name: [data, dims]}); returns every output's data. */
  run(feeds: Record<string, { data: Float32Array; dims: readonly number[] }>): Record<string, Float32Array> {
    if (!this.session) throw new Error('OrtSession used after dispose()');
    const inputs: Record<string, OrtTensorLike> = {};
    // Plain {type, dims, data} objects: the binding reads these three fields (constructing onnxruntime-common's
    // Tensor would reject typed arrays of another realm, e.g. a wasm heap view under jest).
    for (const [k, v] of Object.entries(feeds)) inputs[k] = { type: 'float32', dims: v.dims, data: v.data, location: 'cpu' } as OrtTensorLike;
    const fetches: Record<string, null> = {};
    for (const o of this.outputs) fetches[o] = null;
    const out = this.session.run(inputs, fetches, {});
    const result: Record<string, Float32Array> = {};
    for (const o of this.outputs) result[o] = out[o].data as Float32Array;
    return result;
  }

  /** Stop profiling and write the profile file (sessions opened with `profilePrefix`). */
  endProfiling(): void {
    this.session?.endProfiling();
  }

  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}

let liveSessions = 0;

/** Sessions currently open in this process (tests check it stays flat). */
export function openSessionCount(): number {
  return liveSessions;
}

/** Count a session opened (+1) or released (-1). */
export function trackSession(delta: 1 | -1): void {
  liveSessions += delta;
}
