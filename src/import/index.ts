/**
 * Models made outside opulab (`--model FILE`, spec entries with "file"): a file becomes a Classifier
 * (src/types.ts) by its format, told by its name: `.onnx` (onnx.ts); a TensorFlow.js `model.json` is not
 * loaded by this module yet.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../util/errors';
import { loadOnnxClassifier, ImportOptions, ImportedModelInfo, OnnxClassifier } from './onnx';
import { readOnnxGraph } from './onnx-file';
import { checkOperators } from './tfjs-graph';

export { loadOnnxClassifier, OnnxClassifier, parseImportGradientMode } from './onnx';
export type { ImportOptions, ImportedModelInfo } from './onnx';
export { IMPORT_GRADIENT_MODES, DIFFERENTIABLE_OPS, NON_DIFFERENTIABLE_OPS } from './tfjs-graph';
export type { ImportGradientMode } from './tfjs-graph';

/** A loaded model file: the classifier, what its record says, and how to release it. */
export interface ImportedModel {
  classifier: OnnxClassifier;
  info: ImportedModelInfo;
  dispose(): void;
}

/** Load `file` by its format (see the module comment); one-line UserError for anything else. */
export function loadModelFile(file: string, opts: ImportOptions = {}): ImportedModel {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.onnx') {
    const c = loadOnnxClassifier(file, opts);
    return { classifier: c, info: c.info, dispose: () => c.dispose() };
  }
  if (ext === '.json') throw new UserError(`model file '${file}': --model takes ONNX files; load a TensorFlow.js model (model.json) with loadTfjsClassifier from a script (README: Attacking your own model): expected an .onnx file`);
  throw new UserError(`model file '${file}': unknown format '${ext || '(no extension)'}': expected an .onnx file`);
}

/**
 * Check a model file before any work (no backend, tensors or sessions needed): it exists, has a known format,
 * parses, and uses only supported operators. Errors are the same one-liners loadModelFile gives.
 */
export function checkModelFile(file: string): void {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.onnx') {
    loadModelFile(file);
    return;
  }
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UserError(`model file '${file}' not found: expected an .onnx file`);
  checkOperators(readOnnxGraph(new Uint8Array(fs.readFileSync(file)), file));
}
