/**
 * An ONNX model file as a Classifier (src/types.ts), so every attack runs on it unchanged:
 *
 *  - queries (logits: clean evaluation, score-based and decision attacks, transfer targets) run the file itself
 *    through ONNX Runtime (one session per classifier, released by dispose()), or on tfjs with engine 'tfjs';
 *  - the input gradient (with the per-example attack loss) comes, under the gradient mode (natural: the true
 *    gradient; bpda-identity: straight-through at non-differentiable ops), from one ONNX graph of the model's
 *    nodes, the loss and an explicit backward pass run by ONNX Runtime (onnx-backward.ts; the faster way,
 *    docs/import.md), or with engine 'tfjs', for a loss the graph cannot express, or for a model the backward
 *    builder has no rule for, from the same graph run as tfjs ops and differentiated (tfjs-graph.ts).
 *    Gradient sessions are cached per attack loss and batch size (the first size a loss sees gets a fixed-batch
 *    graph, every other size one shared dynamic-batch graph), at most four open, all released by dispose().
 *
 * Images reach the classifier as NHWC pixels in [0, 1]. Normalization given as `mean`/`std` is applied before the
 * graph (inside the differentiated function, so gradients stay in pixel units); otherwise the graph is fed pixels
 * and is expected to normalize inside. A graph with a fixed batch size is run in chunks of that size.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LossAndGradient, LossFn } from '../types';
import { UserError } from '../util/errors';
import { onnx } from 'onnx-proto';
import { OrtSession, ortAvailable, ortUnavailableReason, trackSession } from '../engine/session';
import type { EngineName } from '../engine';
import { lossKey, lossSpecOf } from '../engine/loss-spec';
import { lossAndInputGradient } from '../util/loss-gradient';
import { readOnnxGraph, Layout, OnnxGraphInfo, OutputKind } from './onnx-file';
import { IMPORT_GRADIENT_MODES, ImportGradientMode, TfjsOnnxGraph, ValueShape } from './tfjs-graph';
import { backwardSupport, BackwardUnsupported, buildImportedGradGraph, ImportedGradGraph } from './onnx-backward';
import { modelInput } from './prologue';

export interface ImportOptions {
  /** Per-channel mean/std applied to pixels before the graph (absent: the graph normalizes, or needs none). */
  mean?: number[];
  std?: number[];
  /** Input layout of the graph (default: read from the graph). */
  layout?: Layout;
  /** Class count (default: read from the graph's output shape). */
  classes?: number;
  /**
   * Engine (default auto: ONNX Runtime where it loads, for queries and gradients; the gradient on tfjs where the
   * backward graph cannot be built). 'tfjs': queries and gradients on tfjs (the graph mapped onto tfjs ops).
   */
  engine?: EngineName;
  /** Gradient mode: natural (default) or bpda-identity. */
  gradient?: string;
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /** Model id in results (default: file:<file name>). */
  id?: string;
  /** Print ONNX Runtime's device line and the one-line notices (default true). */
  announce?: boolean;
  /** Gradient sessions kept open at once (default 4). */
  maxSessions?: number;
}

/** What a results.json model record says of an imported model. */
export interface ImportedModelInfo {
  file: string;
  sha256: string;
  format: 'onnx';
  inputName: string;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  layout: Layout;
  layoutSource: string;
  classes: number;
  classesSource: string;
  outputKind: OutputKind;
  outputSource: string;
  normalization: { mean: number[]; std: number[]; source: string } | { source: string };
  /** Fixed batch size of the graph, or 'dynamic'. */
  batch: number | 'dynamic';
  queryEngine: 'onnxruntime' | 'tfjs';
  /** Where input gradients are computed: an ONNX Runtime backward graph, or the tfjs mapping. */
  gradientEngine: 'onnxruntime' | 'tfjs';
  /** Why the gradient runs on tfjs (absent when it runs on ONNX Runtime). */
  gradientEngineReason?: string;
  gradientMode: ImportGradientMode;
  opset: number;
  producer: string;
}

function sha256(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

export function parseImportGradientMode(text: string | undefined): ImportGradientMode {
  const v = text ?? 'natural';
  if (!(IMPORT_GRADIENT_MODES as readonly string[]).includes(v)) {
    throw new UserError(`unknown gradient mode '${v}' for an imported model: expected one of ${IMPORT_GRADIENT_MODES.join(', ')}`);
  }
  return v as ImportGradientMode;
}

function checkPerChannel(name: string, v: number[] | undefined, channels: number, positive: boolean): number[] | undefined {
  if (v === undefined) return undefined;
  const vals = v.length === 1 ? new Array<number>(channels).fill(v[0]) : v;
  if (vals.length !== channels || vals.some((x) => !Number.isFinite(x) || (positive && x <= 0))) {
    throw new UserError(`bad --${name} '${v.join(',')}': expected ${channels} comma-separated ${positive ? 'positive ' : ''}numbers (one per channel) or one for all`);
  }
  return vals;
}

export class OnnxClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly stochastic = false;
  readonly normalizationStd: readonly number[];
  readonly gradientMode: string;
  readonly info: ImportedModelInfo;
  private readonly graph: TfjsOnnxGraph;
  private session: OrtSession | null = null;
  private readonly fixedBatch: number | null;
  private readonly mean: number[] | undefined;
  private readonly std: number[] | undefined;
  private readonly bytes: Uint8Array;
  private readonly graphInfo: OnnxGraphInfo;
  private readonly opts: ImportOptions;
  /** Gradient graphs and sessions, least recently used first (see the module comment). */
  private readonly gradCache = new Map<string, { graph: ImportedGradGraph; session: OrtSession }>();
  private readonly primaryBatch = new Map<string, number>();
  private shapes: Map<string, ValueShape> | null = null;
  private readonly noticed = new Set<string>();
  /** Graph runs so far on each engine (tests): queries and gradients. */
  readonly runs = { onnxruntime: 0, tfjs: 0 };

  constructor(bytes: Uint8Array, file: string, opts: ImportOptions = {}) {
    const label = path.basename(file);
    const g: OnnxGraphInfo = readOnnxGraph(bytes, file);
    const mode = parseImportGradientMode(opts.gradient);
    if (opts.layout !== undefined && opts.layout !== 'nchw' && opts.layout !== 'nhwc') throw new UserError(`bad --layout '${String(opts.layout)}': expected nchw or nhwc`);
    const layout = opts.layout ?? g.layout;
    if (!layout) throw new UserError(`'${label}': cannot tell the layout of input '${g.input.name}' [${g.input.dims}]: give --layout nchw or --layout nhwc`);
    const d = g.input.dims;
    const [h, w, c] = layout === 'nchw' ? [d[2], d[3], d[1]] : [d[1], d[2], d[3]];
    if (typeof h !== 'number' || typeof w !== 'number' || typeof c !== 'number') {
      throw new UserError(`'${label}': input '${g.input.name}' [${d}] has a symbolic height, width or channel count: expected fixed image dimensions (export with a fixed image size)`);
    }
    if (opts.classes !== undefined && (!Number.isInteger(opts.classes) || opts.classes < 2)) throw new UserError(`bad --classes ${opts.classes}: expected an integer >= 2`);
    if (opts.classes !== undefined && g.classes !== null && opts.classes !== g.classes) {
      throw new UserError(`--classes ${opts.classes} contradicts '${label}', whose output '${g.output.name}' has ${g.classes} classes: drop --classes or give ${g.classes}`);
    }
    const classes = opts.classes ?? g.classes;
    if (classes === null) throw new UserError(`'${label}': the class count of output '${g.output.name}' [${g.output.dims}] is not fixed: give --classes N`);
    const mean = checkPerChannel('mean', opts.mean, c, false);
    const std = checkPerChannel('std', opts.std, c, true);
    if ((mean === undefined) !== (std === undefined)) throw new UserError('give both --mean and --std (the input normalization), or neither');
    // opulab's own exports record their normalization (it is inside the graph): normalizing again would be wrong
    const inside = g.metadata['opulab.normalization'];
    let insideNorm: { mean: number[]; std: number[] } | null = null;
    if (inside) {
      try {
        insideNorm = JSON.parse(inside) as { mean: number[]; std: number[] };
      } catch {
        insideNorm = null;
      }
    }
    if (mean && insideNorm) throw new UserError(`'${label}' normalizes inside its graph (metadata opulab.normalization ${inside}): drop --mean/--std`);
    this.normalizationStd = std ?? insideNorm?.std ?? new Array<number>(c).fill(1);
    const batchDim = g.input.dims[0];
    this.fixedBatch = typeof batchDim === 'number' ? batchDim : null;
    this.id = opts.id ?? `file:${label}`;
    this.numClasses = classes;
    this.inputShape = [h, w, c];
    this.gradientMode = mode;
    this.graph = new TfjsOnnxGraph(g, mode);
    this.mean = mean;
    this.std = std;
    this.bytes = bytes;
    this.graphInfo = g;
    this.opts = opts;

    const engine = opts.engine ?? 'auto';
    let queryEngine: 'onnxruntime' | 'tfjs' = 'tfjs';
    if (engine !== 'tfjs') {
      if (ortAvailable()) queryEngine = 'onnxruntime';
      else if (engine === 'onnxruntime') {
        this.dispose();
        throw new UserError(`--engine onnxruntime: onnxruntime-node does not load here (${ortUnavailableReason()}); expected it installed (npm ci), or use --engine tfjs`);
      }
    }
    if (queryEngine === 'onnxruntime') {
      try {
        this.session = new OrtSession(bytes, { threads: opts.threads, announce: opts.announce });
      } catch (e) {
        this.dispose();
        if (e instanceof UserError) throw e;
        throw new UserError(`ONNX Runtime cannot load '${label}' (${e instanceof Error ? e.message.split('\n')[0] : String(e)}): expected a valid ONNX model`);
      }
      trackSession(1);
    }
    const noBackward = queryEngine === 'onnxruntime' ? backwardSupport(g) : engine === 'tfjs' ? '--engine tfjs' : `onnxruntime-node does not load here (${ortUnavailableReason()})`;
    this.info = {
      file: path.resolve(file),
      sha256: sha256(bytes),
      format: 'onnx',
      inputName: g.input.name,
      inputShape: [h, w, c],
      layout,
      layoutSource: opts.layout ? '--layout' : g.layoutReason,
      classes,
      classesSource: opts.classes !== undefined && g.classes === null ? '--classes' : `output '${g.output.name}' [${g.output.dims}]`,
      outputKind: g.outputKind,
      outputSource: g.outputReason,
      normalization: mean ? { mean, std: std!, source: '--mean/--std, applied before the graph' } : insideNorm ? { ...insideNorm, source: 'inside the graph (metadata opulab.normalization)' } : { source: 'none given: the graph is fed [0,1] pixels' },
      batch: this.fixedBatch ?? 'dynamic',
      queryEngine,
      gradientEngine: noBackward === null ? 'onnxruntime' : 'tfjs',
      ...(noBackward === null ? {} : { gradientEngineReason: queryEngine === 'onnxruntime' ? `no ONNX Runtime backward graph: ${noBackward}` : noBackward }),
      gradientMode: mode,
      opset: g.opset,
      producer: g.producer,
    };
  }

  /** NHWC pixels -> the graph's input: normalized; NCHW for an NCHW graph where `transpose` (ONNX Runtime). */
  private prepare(x: tf.Tensor4D, transpose = false): tf.Tensor4D {
    return modelInput(x, { mean: this.mean, std: this.std, nchw: transpose && this.info.layout === 'nchw' });
  }

  private checkInput(x: tf.Tensor4D): void {
    const [, h, w, c] = x.shape;
    const [eh, ew, ec] = this.inputShape;
    if (h !== eh || w !== ew || c !== ec) throw new UserError(`model '${this.id}' takes ${eh}x${ew}x${ec} images, got ${h}x${w}x${c}: expected a dataset of that image size`);
  }

  /** Run `f` on chunks of the graph's fixed batch size (zero-padded), or once for a dynamic batch. */
  private chunked<T extends tf.Tensor>(x: tf.Tensor4D, f: (chunk: tf.Tensor4D) => T): T {
    const b = this.fixedBatch;
    const n = x.shape[0];
    if (b === null || b === n) return f(x);
    return tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (let i = 0; i < n; i += b) {
        const size = Math.min(b, n - i);
        let chunk = tf.slice(x, [i, 0, 0, 0], [size, -1, -1, -1]);
        if (size < b) chunk = tf.concat([chunk, tf.zeros([b - size, x.shape[1], x.shape[2], x.shape[3]])], 0);
        const out = f(chunk as tf.Tensor4D);
        parts.push(size < b ? tf.slice(out, 0, size) : out);
      }
      return tf.concat(parts, 0) as T;
    });
  }

  private outputOf(t: tf.Tensor, batch: number): tf.Tensor2D {
    if (t.size !== batch * this.numClasses) throw new UserError(`model '${this.id}' returned ${t.size / batch} scores per image: expected ${this.numClasses} (the class count; check --classes)`);
    return tf.reshape(t, [batch, this.numClasses]);
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput(x);
    const session = this.session;
    if (!session) {
      return this.chunked(x, (chunk) =>
        tf.tidy(() => {
          this.runs.tfjs++;
          return this.outputOf(this.graph.run(this.prepare(chunk), this.info.layout === 'nchw'), chunk.shape[0]);
        }),
      );
    }
    return this.chunked(x, (chunk) => {
      const feed = tf.tidy(() => tf.clone(this.prepare(chunk, true)));
      const data = feed.dataSync() as Float32Array;
      const dims = feed.shape;
      const out = session.run({ [this.info.inputName]: { data, dims } });
      feed.dispose();
      this.runs.onnxruntime++;
      const first = Object.keys(out)[0];
      const scores = out[first];
      return tf.tidy(() => this.outputOf(tf.tensor1d(scores), chunk.shape[0]));
    });
  }

  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    this.checkInput(x);
    const b = this.fixedBatch;
    if (b !== null && b !== x.shape[0]) {
      // per chunk of the fixed batch (losses are per example, so the chunks' gradients are the whole one's)
      const n = x.shape[0];
      const grads: tf.Tensor[] = [];
      const losses: tf.Tensor[] = [];
      for (let i = 0; i < n; i += b) {
        const size = Math.min(b, n - i);
        const xs = tf.tidy(() => {
          const c = tf.slice(x, [i, 0, 0, 0], [size, -1, -1, -1]);
          return size < b ? tf.concat([c, tf.zeros([b - size, x.shape[1], x.shape[2], x.shape[3]])], 0) : c;
        }) as tf.Tensor4D;
        const ls = tf.tidy(() => {
          const l = tf.slice(labels, i, size);
          return size < b ? tf.concat([l, tf.zeros([b - size], labels.dtype)], 0) : l;
        }) as tf.Tensor1D;
        // padded rows affect only their own loss and gradient rows (per-example losses), dropped here
        const r = this.gradient(xs, ls, loss);
        grads.push(tf.slice(r.grad, 0, size));
        losses.push(tf.slice(r.loss, 0, size));
        tf.dispose([xs, ls, r.grad, r.loss]);
      }
      const out = { loss: tf.concat(losses, 0) as tf.Tensor1D, grad: tf.concat(grads, 0) as tf.Tensor4D };
      tf.dispose([...grads, ...losses]);
      return out;
    }
    return this.gradient(x, labels, loss);
  }

  private gradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    const spec = lossSpecOf(loss);
    if (this.info.gradientEngine === 'onnxruntime' && spec) {
      const r = this.ortGradient(x, labels, spec);
      if (r) return r;
    } else if (this.info.gradientEngine === 'onnxruntime') {
      this.notice('loss', `${this.id}: this attack loss has no ONNX form; its gradients run on tfjs (the graph mapped onto tfjs ops)`);
    }
    const nchw = this.info.layout === 'nchw';
    const r = lossAndInputGradient((xx) => this.outputOf(this.graph.run(this.prepare(xx), nchw), xx.shape[0]), x, labels, loss);
    this.runs.tfjs++;
    return r;
  }

  /** The gradient from the ONNX Runtime backward graph; null (said once) where the graph cannot be built. */
  private ortGradient(x: tf.Tensor4D, labels: tf.Tensor1D, spec: NonNullable<ReturnType<typeof lossSpecOf>>): LossAndGradient | null {
    const batch = x.shape[0];
    let entry;
    try {
      entry = this.gradGraph(spec, batch);
    } catch (e) {
      if (!(e instanceof BackwardUnsupported)) throw e;
      this.info.gradientEngine = 'tfjs';
      this.info.gradientEngineReason = `no ONNX Runtime backward graph: ${e.message}`;
      this.notice('backward', `${this.id}: ${this.info.gradientEngineReason}; gradients run on tfjs (the graph mapped onto tfjs ops)`);
      return null;
    }
    const { graph, session } = entry;
    const sig = graph.signature;
    const column = (t: tf.Tensor1D): { data: Float32Array; dims: number[] } => ({ data: Float32Array.from(t.dataSync()), dims: [batch, 1] });
    const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = {
      [sig.x]: { data: x.dataSync() as Float32Array, dims: x.shape },
      [sig.labels]: column(labels),
    };
    if (sig.trueLabels) feeds[sig.trueLabels] = column(spec.trueLabels!);
    const out = session.run(feeds);
    this.runs.onnxruntime++;
    return { loss: tf.tensor1d(out[sig.loss]), grad: tf.tensor4d(out[sig.grad], x.shape) };
  }

  private gradGraph(spec: NonNullable<ReturnType<typeof lossSpecOf>>, batch: number): { graph: ImportedGradGraph; session: OrtSession } {
    const kind = lossKey(spec);
    let primary = this.primaryBatch.get(kind);
    if (primary === undefined) this.primaryBatch.set(kind, (primary = batch));
    const fixed = this.fixedBatch !== null || batch === primary;
    const key = `${kind}:${fixed ? batch : 'N'}`;
    const hit = this.gradCache.get(key);
    if (hit) {
      this.gradCache.delete(key);
      this.gradCache.set(key, hit);
      return hit;
    }
    this.shapes ??= this.graph.valueShapes(this.fixedBatch ?? 2);
    const graph = buildImportedGradGraph(onnx.ModelProto.decode(this.bytes), this.graphInfo, this.shapes, {
      mode: this.info.gradientMode,
      loss: { name: spec.name, targeted: spec.targeted },
      batch: fixed ? batch : 'N',
      layout: this.info.layout,
      inputShape: this.info.inputShape,
      classes: this.numClasses,
      mean: this.mean,
      std: this.std,
    });
    const entry = { graph, session: new OrtSession(graph.bytes, { threads: this.opts.threads, announce: false }) };
    trackSession(1);
    this.gradCache.set(key, entry);
    while (this.gradCache.size > (this.opts.maxSessions ?? 4)) {
      const [oldest, old] = this.gradCache.entries().next().value as [string, { session: OrtSession }];
      old.session.dispose();
      trackSession(-1);
      this.gradCache.delete(oldest);
    }
    return entry;
  }

  private notice(key: string, line: string): void {
    if (this.noticed.has(key) || this.opts.announce === false) return;
    this.noticed.add(key);
    process.stderr.write(`${line}\n`);
  }

  /** ONNX Runtime sessions this classifier holds: the query session and the cached gradient sessions. */
  get openSessions(): number {
    return (this.session ? 1 : 0) + this.gradCache.size;
  }

  dispose(): void {
    if (this.session) {
      this.session.dispose();
      trackSession(-1);
      this.session = null;
    }
    for (const e of this.gradCache?.values() ?? []) {
      e.session.dispose();
      trackSession(-1);
    }
    this.gradCache?.clear();
    this.graph?.dispose();
  }
}

/** Load an ONNX model file as a Classifier (one-line UserError on a missing or unusable file). */
export function loadOnnxClassifier(file: string, opts: ImportOptions = {}): OnnxClassifier {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UserError(`model file '${file}' not found: expected an .onnx file`);
  return new OnnxClassifier(new Uint8Array(fs.readFileSync(file)), file, opts);
}
