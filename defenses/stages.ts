/** Head stage sequences shared by the built-in optical head and its ablations (defenses/builtin/). */
import type { CameraConfig } from '../src/models/vocabulary';
import type { HeadStage } from '../src/models/head';
import type { DefenseContext } from './types';

/**
 * Dropout, Dense(opuIn)+ReLU, [DFA feedback point], [Sign(x - center)], [OPU, ReLU], Dense(classes): the optical
 * head with or without its binarization and its random projection (the ablations of the paper).
 */
export function opticalStages(c: DefenseContext, parts: { sign: boolean; opu: boolean }): HeadStage[] {
  return [
    { op: 'dropout' },
    { op: 'dense', name: 'dense1', units: c.opuIn, relu: true, observe: 'head/dense1' },
    { op: 'feedback' },
    ...(parts.sign ? [{ op: 'sign', center: c.binarizeCenter } as HeadStage] : []),
    ...(parts.opu
      ? [{ op: 'opu', outFeatures: c.opuOut, mode: c.opuMode, seedLabel: 'opu', ...(c.camera ? { camera: c.camera } : {}) } as HeadStage, { op: 'relu', observe: 'head/opu' } as HeadStage]
      : []),
    { op: 'dense', name: 'out', units: c.numClasses, relu: false },
  ];
}

/** A camera with shot or read noise makes the OPU's output random. */
export function cameraIsStochastic(camera: CameraConfig | undefined): boolean {
  return camera?.shotNoise === true || (typeof camera?.readNoiseStd === 'number' && camera.readNoiseStd > 0);
}
