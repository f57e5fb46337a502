/**
 * opulab's package entry (package.json "main"/"types"). Plugin authors get completion with
 *   /** @type {import('opulab').DefensePlugin} *\/ module.exports = { ... }      (JS + JSDoc)
 *   import type { AttackPlugin } from 'opulab';                                   (TypeScript)
 */
export type { Classifier, Attack, AttackOutcome, AttackContext, AttackFacts, LossFn, LossAndGradient, Norm, EpsSpace, ThreatModel } from './types';
export type { ParamSpec, ParamSpecs, RawParams } from '../attacks/params';
export type {
  DefensePlugin,
  AttackPlugin,
  InputTransformContext,
  SurrogateGradient,
  PluginRuntime,
  PluginParams,
  PluginParamValue,
  PluginInfo,
  PluginGradientMode,
  HeadContext,
  Tfjs,
} from './plugins/types';
export type { Rng } from './util/rng';
export type { ModelConfig, Architecture, DefenseName, TrainingMethod } from './models/config';
export type { ProbeExtra, ProbeCurve, OptimizerSweepRow } from '../reports/extras';

export { loadDefensePlugin, applyDefensePlugin, loadAttackPlugin, resolveAttack, listPlugins, isPluginPath } from './plugins';
export { UserError } from './util/errors';
export { resolveDefense, gradientModesFor, builtinDefenseNames } from '../defenses/registry';
export type { Defense, DefenseContext, DefenseRecord, GradientModeDecl } from '../defenses/types';
export type { HeadStage, GradientPath } from './models/head';

// ---- Library API: attack your own model from a script (README "Attacking your own model") -------------------
// Everything below is the code the CLI runs; nothing is a separate implementation.

/** Compute backend (tensorflow > wasm > cpu); call once before any tensor work. */
export { initBackend, BACKEND_NAMES } from './backend';
export type { BackendName, BackendInfo } from './backend';

/**
 * Model loaders: ONNX files, TensorFlow.js models (from disk or in memory), any model file by its format (what
 * `--model` loads) and opulab checkpoints, each as a Classifier.
 */
export { loadOnnxClassifier, OnnxClassifier, loadModelFile, checkModelFile } from './import';
export type { ImportOptions, ImportedModelInfo, ImportedModel, ModelFileInfo, TfjsModelInfo } from './import';
export { loadTfjsClassifier, fromTfjsModel, TfjsClassifier } from './import/tfjs';
export type { TfjsModel, TfjsClassifierOptions, InputLayout, ModelOutput } from './import/tfjs';
export { tfjsFileHandler } from './import/tfjs-io';
export { loadCheckpoint } from './import/checkpoint';
export type { CheckpointOptions, LoadedCheckpoint } from './import/checkpoint';

/** Attacks: the classes the CLI uses (`opulab list` describes them), and the registry by name. */
export { Fgsm, Pgd, Apgd } from '../attacks/whitebox';
export type { FgsmParams, PgdParams, ApgdParams } from '../attacks/whitebox';
export { SquareAttack, NesAttack, BanditsAttack, ParsimoniousAttack, HopSkipJumpAttack } from '../attacks/blackbox';
export { MiFgsm, DiFgsm } from '../attacks/transfer';
export { RandomNoise } from '../attacks/noise';
export { createAttack, attackNames } from '../attacks/registry';
export { crossEntropyLoss, cwMarginLoss, dlrLoss, lossFor } from '../attacks/losses';
export type { LossName } from '../attacks/losses';
export { withEot, EotClassifier } from '../attacks/eot';
export type { EotOptions } from '../attacks/eot';
export { parseEps, parseEpsList } from '../attacks/eps';

/** The evaluation loop with its per-example records. */
export { evaluateAttack } from '../attacks/evaluate';
export type { EvaluationData, EvaluateOptions, EvaluationRun } from '../attacks/evaluate';
export type { RunRecord, PerSampleRecord, ModelRecord, CheckRecord, ResultsFile, EnvironmentInfo } from './results/schema';

/** The checks C1-C17 (docs/method.md §6), results.json and the HTML report. */
export { computeChecks, formatCheck, worstCaseAccuracy } from '../reports/checks';
export { writeResults, writeReport } from '../reports/write';
export type { WriteResultsOptions, WriteReportOptions } from '../reports/write';
export { renderReport } from '../reports/html';
export type { RenderOptions } from '../reports/html';
export { loadResultsFile } from '../reports/load';

/** Engines: ONNX Runtime for opulab networks (`withEngine`), tfjs otherwise. */
export { OrtClassifier } from './engine/classifier';
export { withEngine, releaseEngine, ENGINE_NAMES } from './engine';
export type { EngineName } from './engine';

/** Data: CIFAR-10/100 (verified, from $OPULAB_DATA_DIR or ~/.cache/opulab) and the synthetic set. */
export { loadDataset } from '../datasets/load';
export { takeTensors } from '../datasets/batches';
export type { Dataset, DatasetName } from '../datasets/types';
