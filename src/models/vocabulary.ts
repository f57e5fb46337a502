/**
 * The words of a model config that defenses, head stages and plugins are written in (docs/architecture.md §1,
 * layer "model vocabulary"). Plain types and constant lists, no imports: `src/models/config.ts` re-exports them
 * and adds the checks that need the defense registry.
 */

/** A value of a plugin parameter (plugins declare defaults; users override by name). */
export type PluginParamValue = number | string | boolean;

/**
 * What a model config records about a defense plugin (src/plugins): the file it came from and the
 * parameters it was built with, so a checkpoint reloads the same input transform.
 */
export interface DefensePluginRecord {
  /** Absolute path of the plugin file. */
  path: string;
  name: string;
  params: Record<string, PluginParamValue>;
  /** sha256 of the file when the model was built (a changed file is reported on reload). */
  sha256?: string;
}

/** A built-in defense name (one of the defense registry's built-ins). */
export type DefenseName = string;

export const TRAINING_METHODS = ['bp', 'dfa', 'hybrid'] as const;
export type TrainingMethod = (typeof TRAINING_METHODS)[number];

export type OpuMode = 'physical' | 'reference';
/**
 * What Sign(x - center) subtracts. 'batch-mean' is the reference code's x - x.mean() over the whole batch, in
 * training AND evaluation, so a prediction depends on the other images in its batch. 'running-mean' (default)
 * trains the same way but keeps a running average of the batch means (like BatchNorm's running statistics) and uses
 * it in evaluation: predictions no longer depend on the batch. 'sample-mean' centers each example on its own mean.
 */
export type BinarizeCenter = 'running-mean' | 'batch-mean' | 'sample-mean';
export const BINARIZE_CENTERS: readonly BinarizeCenter[] = ['running-mean', 'batch-mean', 'sample-mean'];

export interface CameraConfig {
  gain?: number;
  darkOffset?: number;
  shotNoise?: boolean;
  readNoiseStd?: number;
  quantize?: boolean;
  [key: string]: unknown;
}
