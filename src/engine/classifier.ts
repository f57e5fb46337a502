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
 * stream (Camera.drawNoise), exactly as the tfjs forward draws it, and fed to the graph.
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

export interface OrtClassifierOptions extends SessionOptions {
  /** Sessions kept open at once (default 4). */
  maxSessions?: number;
  /** Called once with a line when a part runs on tfjs instead. */
  notice?: (line: string) => void;
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
  }

  get stochastic(): boolean {
    return this.net.stochastic;
  }

  private graph(request: GraphRequest, batch: number): CachedGraph {
    const kind = request.kind === 'grad' ? `grad:${lossKey(request.loss)}` : 'logits';
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

  /** Feeds shared by every graph: the input and, for a noisy camera, this call's noise draws. */
  private commonFeeds(pixels: Float32Array, batch: number, g: BuiltGraph): Record<string, { data: Float32Array; dims: readonly number[] }> {
    const [h, w, c] = this.inputShape;
    if (pixels.length !== batch * h * w * c) throw new Error(`OrtClassifier: ${pixels.length} values for ${batch} images of ${h}x${w}x${c}`);
    const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = { [g.signature.x]: { data: pixels, dims: [batch, h, w, c] } };
    const opu = this.net.opu;
    if (opu) {
      // device accounting, as OpticalProcessingUnit.forward does
      opu.projections += batch;
      opu.frames += batch * opu.cost.framesPerProjection;
      if (opu.stochastic) {
        const noise = opu.camera.drawNoise([batch, opu.outFeatures]);
        const dims = [batch, opu.outFeatures];
        if (noise.shot && g.signature.shotNoise) feeds[g.signature.shotNoise] = { data: noise.shot.dataSync() as Float32Array, dims };
        if (noise.read && g.signature.readNoise) feeds[g.signature.readNoise] = { data: noise.read.dataSync() as Float32Array, dims };
        tf.dispose([noise.shot, noise.read].filter((t): t is tf.Tensor2D => t !== null));
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
