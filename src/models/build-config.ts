/** One place that turns user-facing choices (CLI flags or a spec's model entry) into a validated ModelConfig. */
import { defaultModelConfig, ModelConfig, Architecture, DefenseName, TrainingMethod, OpuMode, BinarizeCenter, CameraConfig } from './config';
import { isPluginPath } from '../plugins/file';
import { loadDefensePlugin, applyDefensePlugin } from '../plugins/defense';

export interface ModelChoices {
  architecture: string;
  width: number;
  /** A built-in defense name or a defense plugin file. */
  defense: string;
  /** Defense plugin parameters. */
  defenseParams?: Readonly<Record<string, unknown>>;
  training: string;
  opuIn: number;
  opuOut: number;
  opuMode: string;
  binarizeCenter?: string;
  camera?: CameraConfig;
  seed: number;
  numClasses: number;
  normalization: { mean: number[]; std: number[] };
}

export function buildModelConfig(c: ModelChoices): ModelConfig {
  if (isPluginPath(c.defense)) {
    const loaded = loadDefensePlugin(c.defense, c.defenseParams ?? {});
    return applyDefensePlugin(buildModelConfig({ ...c, defense: 'none', defenseParams: undefined }), loaded);
  }
  return defaultModelConfig({
    architecture: c.architecture as Architecture,
    width: c.width,
    defense: c.defense as DefenseName,
    training: c.training as TrainingMethod,
    opuIn: c.opuIn,
    opuOut: c.opuOut,
    opuMode: c.opuMode as OpuMode,
    ...(c.binarizeCenter !== undefined ? { binarizeCenter: c.binarizeCenter as BinarizeCenter } : {}),
    ...(c.camera !== undefined ? { camera: c.camera } : {}),
    seed: c.seed,
    numClasses: c.numClasses,
    normalization: c.normalization,
  });
}
