/**
 * Models made outside opulab (`--model FILE`, spec entries with "file"): a file becomes a Classifier
 * (src/types.ts) by its format, told by its name: `.onnx` (onnx.ts), or a TensorFlow.js `model.json` with its
 * weight shards (a LayersModel or a GraphModel, tfjs.ts). Loading is asynchronous (TensorFlow.js loads its
 * models through promises); checking a file before any work (`checkModelFile`) is not.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Classifier } from '../types';
import type { Dataset } from '../../datasets/types';
import { UserError } from '../util/errors';
import { loadOnnxClassifier, parseImportGradientMode, ImportOptions, ImportedModelInfo } from './onnx';
import { readOnnxGraph, type Layout } from './onnx-file';
import { checkOperators } from './tfjs-graph';
import { readTfjsModelJson, tfjsShardPaths } from './tfjs-io';
import { loadTfjsClassifier, tfjsFormat, type TfjsClassifier } from './tfjs';

export { loadOnnxClassifier, OnnxClassifier, parseImportGradientMode } from './onnx';
export type { ImportOptions, ImportedModelInfo } from './onnx';
export { IMPORT_GRADIENT_MODES, DIFFERENTIABLE_OPS, NON_DIFFERENTIABLE_OPS } from './tfjs-graph';
export type { ImportGradientMode } from './tfjs-graph';

/** What a results.json model record says of a TensorFlow.js model (the fields an ONNX record shares, and its shards). */
export interface TfjsModelInfo {
  file: string;
  /** sha256 of model.json and its weight shards in manifest order (modelFileHash). */
  sha256: string;
  format: 'tfjs-layers-model' | 'tfjs-graph-model';
  /** The weight shards listed in model.json, relative to its folder. */
  shards: string[];
  /** [height, width, channels] */
  inputShape: [number, number, number];
  layout: Layout;
  layoutSource: string;
  classes: number;
  classesSource: string;
  outputKind: 'logits' | 'probabilities';
  outputSource: string;
  normalization: { mean: number[]; std: number[]; source: string } | { source: string };
  queryEngine: 'tfjs';
  gradientEngine: 'tfjs';
  gradientMode: 'natural';
}

/** The record of a model file, of either format (`format` tells which). */
export type ModelFileInfo = ImportedModelInfo | TfjsModelInfo;

/** A loaded model file: the classifier, what its record says, and how to release it. */
export interface ImportedModel {
  classifier: Classifier;
  info: ModelFileInfo;
  dispose(): void;
}

/** A model file and how to read it (a spec entry's "file" or `--model`). */
export interface ModelFileRef {
  path: string;
  options: ImportOptions;
}

/** Check that a dataset fits the imported model (image size, class count): one line before any attack. */
export function checkDataFits(m: ImportedModel, data: Pick<Dataset, 'name' | 'height' | 'width' | 'channels' | 'numClasses'>): void {
  const [h, w, c] = m.info.inputShape;
  if (data.height !== h || data.width !== w || data.channels !== c) {
    throw new UserError(`model '${m.info.file}' takes ${h}x${w}x${c} images, dataset ${data.name} has ${data.height}x${data.width}x${data.channels}: expected a dataset of the model's image size`);
  }
  if (data.numClasses !== m.info.classes) {
    throw new UserError(`model '${m.info.file}' has ${m.info.classes} classes, dataset ${data.name} has ${data.numClasses}: expected the dataset the model was trained on (or --classes)`);
  }
}

export type ModelFileFormat = 'onnx' | 'tfjs';

/** The format of a model file by its name: `.onnx`, or a TensorFlow.js `.json`; one-line UserError otherwise. */
export function modelFileFormat(file: string): ModelFileFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.json') return 'tfjs';
  throw new UserError(`model file '${file}': unknown format '${ext || '(no extension)'}': expected an .onnx file or a TensorFlow.js model.json`);
}

function requireFile(file: string, what: string): void {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UserError(`model file '${file}' not found: expected ${what}`);
}

/** Load `file` by its format (see the module comment); one-line UserError for anything else. */
export async function loadModelFile(file: string, opts: ImportOptions = {}): Promise<ImportedModel> {
  if (modelFileFormat(file) === 'onnx') {
    const c = loadOnnxClassifier(file, opts);
    return { classifier: c, info: c.info, dispose: () => c.dispose() };
  }
  return loadTfjsModelFile(file, opts);
}

async function loadTfjsModelFile(file: string, opts: ImportOptions): Promise<ImportedModel> {
  checkModelFile(file);
  const mode = parseImportGradientMode(opts.gradient);
  if (mode !== 'natural') throw new UserError(`gradient mode '${mode}' for TensorFlow.js model '${file}': expected natural (straight-through modes apply to ONNX graphs)`);
  if ((opts.mean === undefined) !== (opts.std === undefined)) throw new UserError('give both --mean and --std (the input normalization), or neither');
  if (opts.engine === 'onnxruntime') throw new UserError(`--engine onnxruntime: '${file}' is a TensorFlow.js model, which runs on tfjs: expected --engine auto or tfjs`);
  const hash = modelFileHash(file);
  const json = readTfjsModelJson(file);
  const format = tfjsFormat(json, file);
  const c: TfjsClassifier = await loadTfjsClassifier(file, {
    mean: opts.mean,
    std: opts.std,
    layout: opts.layout,
    classes: opts.classes,
    id: opts.id ?? `file:${tfjsDefaultName(file)}`,
  });
  const declared = (c.model.inputs as ReadonlyArray<{ shape?: (number | null)[] }>)[0]?.shape ?? [];
  const info: TfjsModelInfo = {
    file: path.resolve(file),
    sha256: hash,
    format: format === 'graph-model' ? 'tfjs-graph-model' : 'tfjs-layers-model',
    shards: tfjsShardPaths(json, file),
    inputShape: [...c.inputShape] as [number, number, number],
    layout: c.layout,
    layoutSource: opts.layout ? '--layout' : `input shape [${declared.map((d) => (d === null || d < 0 ? '?' : d)).join(',')}]`,
    classes: c.numClasses,
    classesSource: opts.classes !== undefined ? '--classes (checked against the output)' : 'the output of one forward pass',
    outputKind: c.output,
    outputSource: c.outputEvidence,
    normalization: opts.mean ? { mean: perChannel(opts.mean, c.inputShape[2]), std: perChannel(opts.std!, c.inputShape[2]), source: '--mean/--std, applied before the model' } : { source: 'none given: the model is fed [0,1] pixels' },
    queryEngine: 'tfjs',
    gradientEngine: 'tfjs',
    gradientMode: 'natural',
  };
  return { classifier: c, info, dispose: () => c.dispose() };
}

/** One value per channel (a single value stands for all; the classifier has checked the length). */
function perChannel(v: readonly number[], channels: number): number[] {
  return v.length === 1 ? new Array<number>(channels).fill(v[0]) : [...v];
}

/** `file:<folder>` for `.../resnet/model.json`, `file:<name>.json` for another file name. */
function tfjsDefaultName(file: string): string {
  const base = path.basename(file);
  const dir = path.basename(path.dirname(path.resolve(file)));
  return base.toLowerCase() === 'model.json' && dir ? `${dir}/${base}` : base;
}

/**
 * The content hash of a model file: sha256 of the `.onnx` bytes, or of `model.json` followed by its weight shards
 * in manifest order (what a spec job's hash includes, so a changed file or shard reruns the job).
 */
export function modelFileHash(file: string): string {
  const h = crypto.createHash('sha256');
  if (modelFileFormat(file) === 'onnx') {
    requireFile(file, 'an .onnx file');
    return h.update(fs.readFileSync(file)).digest('hex');
  }
  checkModelFile(file);
  h.update(fs.readFileSync(file));
  const dir = path.dirname(path.resolve(file));
  for (const p of tfjsShardPaths(readTfjsModelJson(file), file)) h.update(fs.readFileSync(path.resolve(dir, p)));
  return h.digest('hex');
}

/**
 * Check a model file before any work (no backend, tensors or sessions needed): it exists, has a known format,
 * parses, and uses only supported operators (ONNX) or lists weight shards that are all present (TensorFlow.js).
 * Errors are one-line UserErrors naming the file.
 */
export function checkModelFile(file: string): void {
  if (modelFileFormat(file) === 'onnx') {
    requireFile(file, 'an .onnx file');
    checkOperators(readOnnxGraph(new Uint8Array(fs.readFileSync(file)), file));
    return;
  }
  requireFile(file, 'a TensorFlow.js model.json');
  const json = readTfjsModelJson(file);
  tfjsFormat(json, file);
  const dir = path.dirname(path.resolve(file));
  const shards = tfjsShardPaths(json, file);
  for (const p of shards) {
    const f = path.resolve(dir, p);
    if (!fs.existsSync(f) || !fs.statSync(f).isFile()) throw new UserError(`weight shard '${p}' listed in '${file}' not found: expected it beside model.json`);
  }
}
