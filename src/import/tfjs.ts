/**
 * TensorFlow.js models as Classifiers (docs/architecture.md §2): a LayersModel (Keras converted with
 * tensorflowjs_converter, or built with tf.layers) or a GraphModel (a converted SavedModel), from disk
 * (`loadTfjsClassifier`) or in memory (`fromTfjsModel`).
 *
 * opulab hands a Classifier NHWC pixels in [0,1]. The wrapper applies (x - mean) / std per channel when a
 * normalization is given (leave it out when the model normalizes inside itself), transposes to NCHW when the
 * model's input is channels-first, runs the model in inference mode, and takes input gradients with tf.grad
 * through those same ops. Whether the model ends in a softmax (it outputs probabilities, not logits) is read
 * from the model and recorded in `output`: attacks then see probabilities as scores, which check C12 flags.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { io } from '@tensorflow/tfjs-core';
import { LayersModel, loadLayersModel } from '@tensorflow/tfjs-layers';
import { GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import type { Classifier, LossAndGradient, LossFn } from '../types';
import { UserError } from '../util/errors';
import { readTfjsModelJson, tfjsFileHandler } from './tfjs-io';
import { lossAndInputGradient } from '../util/loss-gradient';
import { modelInput } from './prologue';

export type TfjsModel = LayersModel | GraphModel;
export type InputLayout = 'nhwc' | 'nchw';
/** What the model's output is: raw scores (logits) or a softmax over them (probabilities). */
export type ModelOutput = 'logits' | 'probabilities';

export interface TfjsClassifierOptions {
  /** Per-channel mean subtracted from [0,1] pixels before the model (omit when the model normalizes itself). */
  mean?: readonly number[];
  /** Per-channel std the centred pixels are divided by (omit when the model normalizes itself). */
  std?: readonly number[];
  /** The model's input layout; read from its input shape when absent (channels-last unless dim 1 is 1 or 3). */
  layout?: InputLayout;
  /** Number of classes; read from the output shape when absent, checked against it when given. */
  classes?: number;
  /** [height, width, channels], for models whose input shape is not recorded. */
  inputShape?: readonly [number, number, number];
  /** Override the detected output kind. */
  output?: ModelOutput;
  /** The id recorded in results (default `tfjs-model`, or the model file's folder name when loaded from disk). */
  id?: string;
}

export class TfjsClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly stochastic = false;
  readonly normalizationStd: readonly number[];
  readonly gradientMode = 'natural';
  readonly layout: InputLayout;
  readonly output: ModelOutput;
  /** How `output` was decided, in words (recorded next to it). */
  readonly outputEvidence: string;
  private readonly mean?: readonly number[];
  private readonly std?: readonly number[];

  constructor(
    readonly model: TfjsModel,
    opts: TfjsClassifierOptions = {},
    topology?: unknown,
  ) {
    this.id = opts.id ?? 'tfjs-model';
    const declared = declaredInputShape(model);
    this.layout = opts.layout ?? guessLayout(declared);
    this.inputShape = opts.inputShape ?? inputShapeOf(declared, this.layout);
    const c = this.inputShape[2];
    this.mean = opts.mean === undefined ? undefined : channelVector('mean', opts.mean, c);
    this.std = opts.std === undefined ? undefined : channelVector('std', opts.std, c);
    if (this.std?.some((s) => !(s > 0))) throw new UserError(`bad std [${this.std.join(', ')}]: expected positive numbers`);
    this.normalizationStd = this.std ?? new Array<number>(c).fill(1);
    this.numClasses = probeClasses(this, opts.classes);
    const detected = detectOutput(model, topology);
    this.output = opts.output ?? detected.output;
    this.outputEvidence = opts.output ? `given (detected: ${detected.output}, ${detected.evidence})` : detected.evidence;
  }

  /** The model's output on [0,1] NHWC pixels, [batch, classes] (logits, or probabilities when `output` says so). */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x));
  }

  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    return lossAndInputGradient((xx) => this.forward(xx), x, labels, loss);
  }

  /** Releases the model's weights. */
  dispose(): void {
    this.model.dispose();
  }

  private forward(x: tf.Tensor4D): tf.Tensor2D {
    const [h, w, c] = this.inputShape;
    if (x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new UserError(`input of shape [${x.shape.join(', ')}] for model '${this.id}': expected [batch, ${h}, ${w}, ${c}] (NHWC pixels in [0,1])`);
    }
    const input = modelInput(x, { mean: this.mean, std: this.std, nchw: this.layout === 'nchw' });
    const out = this.model instanceof GraphModel ? this.model.execute(input) : this.model.predict(input);
    if (Array.isArray(out)) throw new UserError(`model '${this.id}' has ${out.length} outputs: expected one output of class scores`);
    return tf.reshape(out as tf.Tensor, [x.shape[0], -1]) as tf.Tensor2D;
  }
}

/** Wraps an in-memory tf.LayersModel or GraphModel as a Classifier. The caller keeps ownership of the model. */
export function fromTfjsModel(model: TfjsModel, opts: TfjsClassifierOptions = {}): TfjsClassifier {
  if (!(model instanceof LayersModel) && !(model instanceof GraphModel)) {
    throw new UserError('fromTfjsModel: expected a tf.LayersModel or GraphModel (from @tensorflow/tfjs-layers or @tensorflow/tfjs-converter, the same tfjs-core as opulab)');
  }
  return new TfjsClassifier(model, opts, graphTopologyOf(model));
}

/**
 * Loads a TensorFlow.js model (`model.json` + weight shards beside it) from disk: a LayersModel when the file
 * says `"format": "layers-model"` (or holds a Keras topology), a GraphModel when it says `"graph-model"`.
 */
export async function loadTfjsClassifier(modelJsonPath: string, opts: TfjsClassifierOptions = {}): Promise<TfjsClassifier> {
  const json = readTfjsModelJson(modelJsonPath);
  const kind = tfjsFormat(json, modelJsonPath);
  const handler = tfjsFileHandler(modelJsonPath);
  const model: TfjsModel = kind === 'graph-model' ? await loadGraphModel(handler) : await loadLayersModel(handler);
  try {
    return new TfjsClassifier(model, { id: defaultId(modelJsonPath), ...opts }, kind === 'graph-model' ? json.modelTopology : undefined);
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function defaultId(modelJsonPath: string): string {
  const parts = modelJsonPath.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  const file = parts[parts.length - 1] ?? 'model.json';
  return file === 'model.json' && parts.length > 1 ? parts[parts.length - 2] : file.replace(/\.json$/, '');
}

/** The kind of model a model.json holds (its format field, else its topology); a UserError for anything else. */
export function tfjsFormat(json: io.ModelJSON, file: string): 'layers-model' | 'graph-model' {
  if (json.format === 'layers-model' || json.format === 'graph-model') return json.format;
  const topo = json.modelTopology as Record<string, unknown>;
  if (topo && typeof topo === 'object' && Array.isArray(topo.node)) return 'graph-model';
  if (topo && typeof topo === 'object' && ('model_config' in topo || 'class_name' in topo)) return 'layers-model';
  throw new UserError(`bad TensorFlow.js model '${file}': format '${String(json.format)}', expected layers-model or graph-model`);
}

function declaredInputShape(model: TfjsModel): (number | null)[] | undefined {
  const inputs = model.inputs as ReadonlyArray<{ shape?: (number | null)[] }>;
  if (inputs.length !== 1) throw new UserError(`the model has ${inputs.length} inputs: expected one image input`);
  const shape = inputs[0].shape;
  return shape?.map((d) => (d === null || d < 0 ? null : d));
}

function guessLayout(shape: (number | null)[] | undefined): InputLayout {
  if (shape && shape.length === 4 && shape[3] !== 1 && shape[3] !== 3 && (shape[1] === 1 || shape[1] === 3)) return 'nchw';
  return 'nhwc';
}

function inputShapeOf(shape: (number | null)[] | undefined, layout: InputLayout): [number, number, number] {
  const dims = shape && shape.length === 4 ? (layout === 'nhwc' ? shape.slice(1) : [shape[2], shape[3], shape[1]]) : undefined;
  if (!dims || dims.some((d) => d === null)) {
    throw new UserError(`the model's input shape is [${shape?.map((d) => d ?? '?').join(', ') ?? 'unknown'}]: expected a 4-d image input with known size, or give inputShape [height, width, channels]`);
  }
  return dims as [number, number, number];
}

function channelVector(name: string, v: readonly number[], c: number): number[] {
  const out = v.length === 1 ? new Array<number>(c).fill(v[0]) : [...v];
  if (out.length !== c || out.some((x) => !Number.isFinite(x))) {
    throw new UserError(`bad ${name} [${v.join(', ')}]: expected ${c} finite numbers (one per input channel) or one for all`);
  }
  return out;
}

/** One forward pass on a zero image: the class count, and a check that the output is one score vector. */
function probeClasses(c: TfjsClassifier, classes: number | undefined): number {
  if (classes !== undefined && (!Number.isInteger(classes) || classes < 2)) throw new UserError(`bad classes ${classes}: expected an integer >= 2`);
  const [h, w, ch] = c.inputShape;
  const k = tf.tidy(() => c.logits(tf.zeros([1, h, w, ch]) as tf.Tensor4D).shape[1]);
  if (classes !== undefined && classes !== k) throw new UserError(`classes ${classes} given, but the model outputs ${k} scores per image`);
  if (k < 2) throw new UserError(`the model outputs ${k} score per image: expected one score per class (at least 2)`);
  return k;
}

interface Detected {
  output: ModelOutput;
  evidence: string;
}

/** The topology a GraphModel was loaded from (kept by tfjs-converter; absent for other objects). */
function graphTopologyOf(model: TfjsModel): unknown {
  if (!(model instanceof GraphModel)) return undefined;
  const held = model as unknown as { artifacts?: io.ModelArtifacts };
  return held.artifacts?.modelTopology;
}

function detectOutput(model: TfjsModel, topology: unknown): Detected {
  if (model instanceof LayersModel) {
    const layer = model.outputs[0].sourceLayer;
    const config = layer.getConfig() as { activation?: unknown };
    const cls = layer.getClassName();
    if (cls === 'Softmax' || config.activation === 'softmax') return { output: 'probabilities', evidence: `final layer ${layer.name} (${cls}) applies softmax` };
    return { output: 'logits', evidence: `final layer ${layer.name} (${cls}) has activation ${String(config.activation ?? 'none')}` };
  }
  const nodes = (topology as { node?: { name: string; op: string; input?: string[] }[] } | undefined)?.node;
  if (!Array.isArray(nodes)) return { output: 'logits', evidence: 'graph topology not available; assumed logits' };
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let name = model.outputNodes[0].split(':')[0];
  for (let hops = 0; hops < nodes.length; hops++) {
    const node = byName.get(name);
    if (!node) break;
    if (node.op === 'Softmax') return { output: 'probabilities', evidence: `output node ${model.outputNodes[0]} is produced by Softmax node ${node.name}` };
    if (node.op !== 'Identity' || !node.input?.length) return { output: 'logits', evidence: `output node ${model.outputNodes[0]} is produced by ${node.op} node ${node.name}` };
    name = node.input[0].split(':')[0].replace(/^\^/, '');
  }
  return { output: 'logits', evidence: `output node ${model.outputNodes[0]} not found in the graph; assumed logits` };
}
