/**
 * The Classifier seam (src/types.ts) on ONNX Runtime: eval-mode logits and the input gradient of a tagged attack
 * loss under the classifier's gradient mode, computed by graphs built from the network (builder.ts). Attacks see
 * the same interface as the tfjs NetworkClassifier; losses the graph cannot express (untagged plugin losses) are
 * computed by the tfjs classifier, said once.
 *
 * Graphs and sessions are cached per request: the first batch size a request sees gets a fixed-batch graph (ONNX
 * Runtime plans a fixed shape best), every other size one shared dynamic-batch graph, so a query attack whose
 * active set shrinks, or the last partial batch of an evaluation, builds no graph per size. At most
 * `maxSessions` stay open (least recently used released first), and `dispose()` releases them all. Camera noise is drawn from the OPU camera's own seeded
 * stream (Camera.drawNoiseArrays), exactly as the tfjs forward draws it, and fed to the graph.
 *
 * A defense's input transform (a plugin's JavaScript) runs on tfjs in front of the graph, through the network's
 * own `transformInput`: the same seed stream as the tfjs forward (one draw per logits or gradient call) and the
 * same backward. For a gradient, the transform runs inside a tfjs gradient scope, the graph's dL/d(transformed
 * input) is the cotangent, and tfjs carries it back through the transform's backward: its autodiff under the
 * modes that differentiate it as written, or the plugin's surrogate under the BPDA modes that name one, exactly as
 * the tfjs engine composes them (src/models/network.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LossAndGradient, LossFn } from '../types';
import type { Network, GradientPath, ForwardOptions } from '../models/network';
import type { GradientModeSpec } from '../models/classifier';
import { modelId } from '../models/config';
import { buildGraph, BuiltGraph, GraphRequest } from './builder';
import { describeModel, ModelDescription } from './describe';
import { networkWeights, GraphWeights } from './weights';
import { lossKey, lossSpecOf } from './loss-spec';
import { OrtSession, SessionOptions, trackSession } from './session';
import { meanOfCalls } from '../util/loss-gradient';

export interface OrtClassifierOptions extends SessionOptions {
  /** Sessions kept open at once (default 4). */
  maxSessions?: number;
  /** Called once with a line when a part runs on tfjs instead. */
  notice?: (line: string) => void;
  /** EOT: rows (examples x copies) one graph run may hold; more copies run in equal chunks (default 4096). */
  maxEotRows?: number;
}

/** The eval-mode forward of the input transform (no backward is taken from it). */
const EVAL_FORWARD: ForwardOptions = { training: false, gradient: { dfa: false, sign: 'zero', opu: 'none' } };

interface CachedGraph {
  graph: BuiltGraph;
  session: OrtSession;
}

export class OrtClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape = [32, 32, 3] as const;
  readonly normalizationStd: readonly number[];
  readonly gradientMode: string;
  readonly engine = 'onnxruntime';
  private readonly desc: ModelDescription;
  private readonly weights: GraphWeights;
  private readonly path: GradientPath;
  /** True when the model has an input transform (run on tfjs in front of the graph). */
  private readonly transformed: boolean;
  private readonly cache = new Map<string, CachedGraph>();
  /** Per request kind: the batch size that has a fixed-batch graph (the first one seen). */
  private readonly primaryBatch = new Map<string, number>();
  private readonly noticed = new Set<string>();
  /** Graph runs so far (for tests and benchmarks). */
  runs = 0;

  constructor(
    readonly net: Network,
    mode: GradientModeSpec,
    private readonly fallback: Classifier,
    private readonly opts: OrtClassifierOptions = {},
  ) {
    this.id = fallback.id ?? modelId(net.config);
    this.numClasses = net.config.numClasses;
    this.normalizationStd = net.config.normalization.std;
    this.gradientMode = fallback.gradientMode ?? mode.label;
    // as NetworkClassifier: a model without feedback points has plain backprop as its natural gradient
    this.path = mode.label === 'natural' && !net.feedback ? { ...mode.path, dfa: false, sign: 'zero', opu: 'true' } : mode.path;
    this.desc = describeModel(net.config, net.defense);
    this.transformed = this.desc.inputTransform !== null;
    if (this.desc.unsupported.length) throw new Error(`OrtClassifier: ${this.desc.unsupported.join('; ')}`);
    this.weights = networkWeights(net);
    if (!this.transformed && net.opu?.stochastic) this.expectedLossAndGradient = (x, labels, loss, samples) => this.eotLossAndGradient(x, labels, loss, samples);
  }

  get stochastic(): boolean {
    return this.net.stochastic;
  }

  /**
   * EOT in one graph run (src/types.ts Classifier.expectedLossAndGradient): present when the camera is the only
   * randomness the graph sees (no input transform in front of it), so the features and the OPU's intensity are
   * computed once and the camera and head on every copy (builder.ts). The noise is the camera stream's next
   * `samples` draws, as `samples` calls of lossAndGradient would take them.
   */
  readonly expectedLossAndGradient?: (x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn, samples: number) => LossAndGradient;

  private graph(request: GraphRequest, batch: number): CachedGraph {
    const kind = request.kind === 'grad' ? `grad:${lossKey(request.loss)}${request.eot && request.eot > 1 ? `:eot${request.eot}` : ''}` : 'logits';
    let primary = this.primaryBatch.get(kind);
    if (primary === undefined) this.primaryBatch.set(kind, (primary = batch));
    const dynamic = batch !== primary;
    const key = `${kind}:${dynamic ? 'N' : batch}`;
    let entry = this.cache.get(key);
    if (entry) {
      // most recently used last
      this.cache.delete(key);
      this.cache.set(key, entry);
      return entry;
    }
    const graph = buildGraph(this.desc, this.weights, request, { batch: dynamic ? 'N' : batch });
    entry = { graph, session: new OrtSession(graph.bytes, this.opts) };
    trackSession(1);
    this.cache.set(key, entry);
    const max = this.opts.maxSessions ?? 4;
    while (this.cache.size > max) {
      const [oldest, old] = this.cache.entries().next().value as [string, CachedGraph];
      old.session.dispose();
      trackSession(-1);
      this.cache.delete(oldest);
    }
    return entry;
  }

  /**
   * Feeds shared by every graph: the input and, for a noisy camera, this call's noise draws: `copies` successive
   * draws of [batch, m] (what `copies` separate calls would draw), stacked copy-major for an EOT graph.
   */
  private commonFeeds(pixels: Float32Array, batch: number, g: BuiltGraph, copies = 1): Record<string, { data: Float32Array; dims: readonly number[] }> {
    const [h, w, c] = this.inputShape;
    if (pixels.length !== batch * h * w * c) throw new Error(`OrtClassifier: ${pixels.length} values for ${batch} images of ${h}x${w}x${c}`);
    const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = { [g.signature.x]: { data: pixels, dims: [batch, h, w, c] } };
    const opu = this.net.opu;
    if (opu) {
      // device accounting, as OpticalProcessingUnit.forward does (each EOT copy is a camera frame of its own)
      opu.projections += copies * batch;
      opu.frames += copies * batch * opu.cost.framesPerProjection;
      if (opu.stochastic) {
        const m = opu.outFeatures;
        const dims = [copies * batch, m];
        // the stream's next `copies` draws of [batch, m], written copy-major straight into the feeds
        const size = copies * batch * m;
        const into = new Float32Array(size);
        for (let s = 0; s < copies; s++) opu.camera.drawNoiseArrays(batch * m, into, s * batch * m);
        if (g.signature.cameraNoise) feeds[g.signature.cameraNoise] = { data: into, dims };
      }
    }
    return feeds;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    const batch = x.shape[0];
    const pixels = this.transformed ? this.transformedPixels(x) : (x.dataSync() as Float32Array);
    return tf.tensor2d(this.graphLogits(pixels, batch), [batch, this.numClasses]);
  }

  /**
   * Logits of `rows` NHWC images given as a plain array: flat [rows, classes]. No tfjs tensor on the way, except
   * for a model with an input transform, which runs on tfjs (its tensors are released before this returns).
   */
  logitsArray(pixels: Float32Array, rows: number): Float32Array {
    if (!this.transformed) return this.graphLogits(pixels, rows);
    const [h, w, c] = this.inputShape;
    const x = tf.tensor4d(pixels, [rows, h, w, c]);
    try {
      return this.graphLogits(this.transformedPixels(x), rows);
    } finally {
      x.dispose();
    }
  }

  /** The input transform's eval-mode output (one draw of its seed stream, as the tfjs forward), as an array. */
  private transformedPixels(x: tf.Tensor4D): Float32Array {
    const y = tf.tidy(() => this.net.transformInput(x, EVAL_FORWARD));
    try {
      return y.dataSync() as Float32Array;
    } finally {
      y.dispose();
    }
  }

  private graphLogits(pixels: Float32Array, rows: number): Float32Array {
    const { graph, session } = this.graph({ kind: 'logits' }, rows);
    const out = session.run(this.commonFeeds(pixels, rows, graph));
    this.runs++;
    return out[graph.signature.logits];
  }

  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    const spec = lossSpecOf(loss);
    if (!spec || !this.fallback.lossAndGradient) {
      this.notice('loss', 'onnxruntime: this attack loss has no ONNX form; its gradients run on tfjs');
      return this.fallback.lossAndGradient!(x, labels, loss);
    }
    const batch = x.shape[0];
    const { graph, session } = this.graph({ kind: 'grad', path: this.path, loss: spec }, batch);
    const asColumn = (t: tf.Tensor1D): { data: Float32Array; dims: number[] } => ({ data: Float32Array.from(t.dataSync()), dims: [batch, 1] });
    const run = (pixels: Float32Array): { loss: Float32Array; grad: Float32Array } => {
      const feeds = this.commonFeeds(pixels, batch, graph);
      feeds[graph.signature.labels!] = asColumn(labels);
      if (graph.signature.trueLabels) feeds[graph.signature.trueLabels] = asColumn(spec.trueLabels!);
      const out = session.run(feeds);
      this.runs++;
      return { loss: out[graph.signature.loss!], grad: out[graph.signature.grad!] };
    };
    if (!this.transformed) {
      const out = run(x.dataSync() as Float32Array);
      return { loss: tf.tensor1d(out.loss), grad: tf.tensor4d(out.grad, x.shape) };
    }
    // The transform on tfjs, the graph's gradient at its output as the cotangent: d/dx sum(T(x) * g) = J_T(x)^T g,
    // with T's backward as the tfjs engine has it under this path (autodiff, or the plugin's surrogate).
    const held: { loss?: Float32Array } = {};
    const opts: ForwardOptions = { training: false, gradient: this.path };
    const grad = tf.tidy(() =>
      tf.grad((xx: tf.Tensor) => {
        const xt = this.net.transformInput(xx as tf.Tensor4D, opts);
        const out = run(xt.dataSync() as Float32Array);
        held.loss = out.loss;
        return tf.sum(tf.mul(xt, tf.tensor4d(out.grad, xt.shape)));
      })(x),
    ) as tf.Tensor4D;
    return { loss: tf.tensor1d(held.loss!), grad };
  }

  private eotLossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn, samples: number): LossAndGradient {
    if (!Number.isInteger(samples) || samples < 1) throw new Error(`EOT samples ${samples}: expected an integer >= 1`);
    const spec = lossSpecOf(loss);
    const batch = x.shape[0];
    // one sample, or a loss without an ONNX form: the mean of separate calls
    if (samples === 1 || !spec || !this.fallback.lossAndGradient) return meanOfCalls(samples, () => this.lossAndGradient(x, labels, loss));
    // copies per graph run: the largest divisor of `samples` that keeps the rows within maxEotRows
    const maxRows = this.opts.maxEotRows ?? 4096;
    let copies = 1;
    for (let d = samples; d >= 1; d--) {
      if (samples % d === 0 && d * batch <= maxRows) {
        copies = d;
        break;
      }
    }
    const pixels = x.dataSync() as Float32Array;
    const asColumn = (t: tf.Tensor1D): { data: Float32Array; dims: number[] } => ({ data: Float32Array.from(t.dataSync()), dims: [batch, 1] });
    const lossSum = new Float64Array(batch);
    const gradSum = new Float64Array(pixels.length);
    const runs = samples / copies;
    for (let r = 0; r < runs; r++) {
      const { graph, session } = copies === 1 ? this.graph({ kind: 'grad', path: this.path, loss: spec }, batch) : this.graph({ kind: 'grad', path: this.path, loss: spec, eot: copies }, batch);
      const feeds = this.commonFeeds(pixels, batch, graph, copies);
      feeds[graph.signature.labels!] = asColumn(labels);
      if (graph.signature.trueLabels) feeds[graph.signature.trueLabels] = asColumn(spec.trueLabels!);
      const out = session.run(feeds);
      this.runs++;
      const [l, gr] = [out[graph.signature.loss!], out[graph.signature.grad!]];
      for (let i = 0; i < batch; i++) lossSum[i] += l[i];
      for (let i = 0; i < gr.length; i++) gradSum[i] += gr[i];
    }
    return { loss: tf.tensor1d(Float32Array.from(lossSum, (v) => v / runs)), grad: tf.tensor4d(Float32Array.from(gradSum, (v) => v / runs), x.shape) };
  }

  private notice(key: string, line: string): void {
    if (this.noticed.has(key)) return;
    this.noticed.add(key);
    (this.opts.notice ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }

  /** Graph sessions open now. */
  get openSessions(): number {
    return this.cache.size;
  }

  dispose(): void {
    for (const e of this.cache.values()) {
      e.session.dispose();
      trackSession(-1);
    }
    this.cache.clear();
  }
}
