/** One place that turns user-facing choices (CLI flags or a spec's model entry) into a validated ModelConfig. */
import { defaultModelConfig, ModelConfig, Architecture, TrainingMethod, OpuMode, BinarizeCenter, CameraConfig } from './config';
import { isPluginPath } from '../plugins/file';
import { loadDefensePlugin, applyDefensePlugin } from '../plugins/defense';
import { resolveDefense } from '../../defenses/registry';

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

/**
 * The config for these choices. A plugin file is read and validated here but its hooks do not run yet (that
 * needs a tfjs backend; Network construction runs them), so commands can validate before touching the backend.
 */
export function buildModelConfig(c: ModelChoices): ModelConfig {
  if (isPluginPath(c.defense)) {
    const loaded = loadDefensePlugin(c.defense, c.defenseParams ?? {}, { check: false });
    return applyDefensePlugin(buildModelConfig({ ...c, defense: 'none', defenseParams: undefined }), loaded);
  }
  resolveDefense(c.defense, c.defenseParams ?? {}); // unknown names and stray parameters: one line
  return defaultModelConfig({
    architecture: c.architecture as Architecture,
    width: c.width,
    defense: c.defense,
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
