/** Validation of a declared head (a plugin's own stages) and the gradient modes that follow from its stages. */
import { UserError } from '../src/util/errors';
import type { HeadStage } from '../src/models/head';
import type { DefenseContext, GradientModeDecl } from './types';
import { BPDA_ESTIMATED, BPDA_NONE, BPDA_RANDOM, BPDA_TRUE, naturalAndTrue } from './gradient-modes';

const CENTERS = ['running-mean', 'batch-mean', 'sample-mean'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** A stage list as the head builder needs it; anything else is ONE UserError naming the defense and the stage. */
export function checkStages(stages: unknown, where: string): HeadStage[] {
  if (!Array.isArray(stages) || stages.length === 0) throw new UserError(`${where}: head must return a non-empty array of stages, got ${JSON.stringify(stages)?.slice(0, 60)}`);
  const names = new Set<string>();
  stages.forEach((s: unknown, i) => {
    const bad = (what: string): never => {
      throw new UserError(`${where}: head stage ${i} (${JSON.stringify(s)?.slice(0, 80)}): ${what}`);
    };
    if (!s || typeof s !== 'object') bad('expected an object { op, ... }');
    const st = s as Record<string, unknown>;
    if (st.observe !== undefined && typeof st.observe !== 'string') bad('observe must be a string');
    switch (st.op) {
      case 'dropout':
      case 'relu':
        break;
      case 'feedback':
        if (st.perLayerOnly !== undefined && typeof st.perLayerOnly !== 'boolean') bad('perLayerOnly must be true or false');
        break;
      case 'dense':
        if (typeof st.name !== 'string' || !NAME.test(st.name) || names.has(st.name)) bad('a dense stage needs a unique name (letters, digits, _ and -)');
        names.add(st.name as string);
        if (!Number.isInteger(st.units) || (st.units as number) < 1) bad('units must be a positive integer');
        if (typeof st.relu !== 'boolean') bad('relu must be true or false');
        break;
      case 'sign':
        if (!CENTERS.includes(st.center as string)) bad(`center must be one of ${CENTERS.join(', ')}`);
        break;
      case 'opu':
        if (!Number.isInteger(st.outFeatures) || (st.outFeatures as number) < 1) bad('outFeatures must be a positive integer');
        if (st.mode !== 'reference' && st.mode !== 'physical') bad("mode must be 'reference' or 'physical'");
        if (typeof st.seedLabel !== 'string') bad('seedLabel must be a string (the OPU matrix seed is derived from the model seed and this label)');
        break;
      default:
        bad("op must be one of dropout, dense, feedback, sign, opu, relu");
    }
  });
  const last = stages[stages.length - 1] as HeadStage;
  if (last.op !== 'dense') throw new UserError(`${where}: the head's last stage must be a dense layer with one unit per class`);
  return stages as HeadStage[];
}

/** natural (+ true for DFA-trained models), BPDA-none where there is a Sign, every OPU surrogate where there is an OPU. */
export function modesForStages(stages: readonly HeadStage[], ctx: DefenseContext): GradientModeDecl[] {
  const hasSign = stages.some((s) => s.op === 'sign');
  const hasOpu = stages.some((s) => s.op === 'opu');
  if (hasOpu) return [...naturalAndTrue(ctx), BPDA_RANDOM, BPDA_TRUE, BPDA_ESTIMATED, BPDA_NONE];
  if (hasSign) return [...naturalAndTrue(ctx), { ...BPDA_NONE, surrogate: 'straight-through Sign (there is no OPU)' }];
  return naturalAndTrue(ctx);
}
