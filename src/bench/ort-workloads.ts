/**
 * The bench workloads on the ONNX Runtime engine (src/engine), on the same model and weights as workloads.ts:
 *   forward     the logits graph of BenchModel (VGG-16 features + Dense(->10))
 *   input_grad  the logits + cross-entropy + input-gradient graph (one attack step)
 * and attack throughput on a full opulab Network (VGG-16, baseline head) through the Classifier seam, for both
 * engines: square (queries/s, one query = one image forward) and pgd (image-steps/s).
 * GFLOP/s counts 2 FLOPs per multiply-add: forward 2 MAC per image, input_grad 4 MAC (forward + input backward).
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildGraph, BuiltGraph, GraphOptions } from '../engine/builder';
import { describeModel, ModelDescription } from '../engine/describe';
import type { GraphWeights, ArrayParam } from '../engine/weights';
import { OrtSession, SessionOptions } from '../engine/session';
import { defaultModelConfig } from '../models/config';
import { Network } from '../models/network';
import { UserError } from '../util/errors';
import { loadNetwork } from '../training/checkpoint';
import { classifierFor, resolveGradientMode } from '../models/classifier';
import { OrtClassifier } from '../engine/classifier';
import { resolveAttack } from '../plugins/attack';
import type { Classifier } from '../types';
import { BenchModel, Workload } from './workloads';

function storeWeights(model: BenchModel): GraphWeights {
  const params = new Map<string, ArrayParam>();
  for (const p of model.store.list()) params.set(p.name, { data: p.variable.dataSync() as Float32Array, shape: p.variable.shape.slice() });
  const none = (): never => {
    throw new Error('the bench model has no OPU');
  };
  return {
    param: (name) => {
      const p = params.get(name);
      if (!p) throw new Error(`bench weights: no parameter '${name}'`);
      return p;
    },
    opuMatrix: none,
    opuRandomBackward: none,
    opuEstimate: () => null,
    feedback: () => null,
  };
}

/** BenchModel as a description: VGG-16 features (BatchNorm folded) + Dense('classifier'). */
function benchDescription(model: BenchModel): ModelDescription {
  const base = describeModel(defaultModelConfig({ architecture: 'vgg16', width: model.width, defense: 'none', training: 'bp' }));
  return { ...base, id: `bench-vgg16-w${model.width}`, head: [{ kind: 'dense', param: 'classifier', inFeatures: model.features.outFeatures, outFeatures: model.classes, relu: false }] };
}

export class OrtBench {
  private readonly sessions = new Map<Workload, { graph: BuiltGraph; session: OrtSession }>();
  private readonly x: Float32Array;
  private readonly labels: Float32Array;

  constructor(
    readonly model: BenchModel,
    readonly threads: number,
    private readonly graphOptions: Pick<GraphOptions, 'rowLayout' | 'winograd' | 'dense2x2'> = {},
    private readonly sessionOptions: Pick<SessionOptions, 'profilePrefix'> = {},
  ) {
    this.x = model.x.dataSync().slice() as Float32Array;
    this.labels = Float32Array.from(tf.tidy(() => tf.argMax(model.labels, 1).dataSync()));
  }

  private entry(workload: Workload): { graph: BuiltGraph; session: OrtSession } {
    let e = this.sessions.get(workload);
    if (!e) {
      const request = workload === 'forward' ? ({ kind: 'logits' } as const) : ({ kind: 'grad', path: { dfa: false, sign: 'zero', opu: 'true' }, loss: { name: 'ce', targeted: false } } as const);
      const graph = buildGraph(benchDescription(this.model), storeWeights(this.model), request, { ...this.graphOptions, batch: this.model.batch, normalize: false });
      e = { graph, session: new OrtSession(graph.bytes, { ...this.sessionOptions, threads: this.threads, announce: false }) };
      this.sessions.set(workload, e);
    }
    return e;
  }

  supports(workload: Workload): boolean {
    return workload === 'forward' || workload === 'input_grad';
  }

  /** Multiply-adds of one image's forward pass. */
  forwardMacs(): number {
    return this.entry('forward').graph.forwardMacs;
  }

  run(workload: Workload): void {
    const { graph, session } = this.entry(workload);
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { [graph.signature.x]: { data: this.x, dims: this.model.x.shape } };
    if (graph.signature.labels) feeds[graph.signature.labels] = { data: this.labels, dims: [this.model.batch, 1] };
    session.run(feeds);
  }

  /** Write the sessions' profiles (a bench opened with `profilePrefix`). */
  endProfiling(): void {
    for (const e of this.sessions.values()) e.session.endProfiling();
  }

  dispose(): void {
    for (const e of this.sessions.values()) e.session.dispose();
    this.sessions.clear();
  }
}

export type AttackWorkload = 'square' | 'pgd';

/** Attack throughput on a seeded VGG-16 (baseline head) through the Classifier seam; returns units per second. */
export async function attackThroughput(
  workload: AttackWorkload,
  engine: 'tfjs' | 'onnxruntime',
  width: number,
  batch: number,
  threads: number,
  seed: number,
  /** A trained model to attack instead of the seeded VGG-16 of `width` (the arithmetic per query is the same). */
  checkpoint?: string,
): Promise<{ perSecond: number; seconds: number; units: number }> {
  const net = checkpoint !== undefined ? loadNetwork(checkpoint).net : new Network(defaultModelConfig({ architecture: 'vgg16', width, defense: 'none', training: 'bp', seed }));
  if (net.config.width !== width) {
    net.dispose();
    throw new UserError(`checkpoint ${checkpoint} has width ${net.config.width}: expected the bench's width ${width} (--attack-width)`);
  }
  const base = classifierFor(net, 'natural');
  const model: Classifier = engine === 'tfjs' ? base : new OrtClassifier(net, resolveGradientMode(net, 'natural'), base, { threads, announce: false });
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  try {
    // labels = the model's own predictions, so every image is attacked (a seeded model is not trained)
    const labels = Int32Array.from(tf.tidy(() => tf.argMax(model.logits(x), 1).dataSync()));
    const steps = 10;
    const attack = workload === 'square' ? resolveAttack('square', { maxQueries: 200 }) : resolveAttack('pgd', { steps, norm: 'linf' });
    // a tiny eps keeps Square from stopping early: the queries are the budget
    const eps = workload === 'square' ? 0.5 / 255 : 8 / 255;
    const run = async (): Promise<number> => {
      const [o] = await attack.run(model, x, labels, [eps], { seed });
      o.adversarial.dispose();
      return workload === 'square' ? (o.queries ?? []).reduce((a, b) => a + b, 0) : batch * steps;
    };
    await run(); // warm-up (graphs, sessions, kernels)
    const t = process.hrtime.bigint();
    const units = await run();
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    return { perSecond: units / seconds, seconds, units };
  } finally {
    x.dispose();
    if (model instanceof OrtClassifier) model.dispose();
    net.dispose();
  }
}
