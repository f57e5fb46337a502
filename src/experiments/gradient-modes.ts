/**
 * Which attacker-gradient modes apply to a model entry of a spec. Today this follows the model's built-in defense
 * head: BPDA surrogates only where there is a Sign or an OPU; `true` (exact backprop) only where it differs from
 * `natural`, i.e. for DFA-trained models. The runner (which jobs it plans) and spec validation (which gradient
 * lists are meaningful) both ask this one function.
 */
import { usesBinarization, usesOpu, DefenseName } from '../models/config';

export interface GradientModel {
  /** A built-in defense name or a defense plugin file. */
  defense: string;
  training: string;
}

/** Whether gradient mode `mode` (e.g. 'bpda-true', 'bpda-estimated:2000') is meaningful for `model`. */
export function gradientModeApplies(mode: string, model: GradientModel): boolean {
  const base = mode.split(':')[0];
  const defense = model.defense as DefenseName;
  const hasSign = usesBinarization(defense);
  const hasOpu = usesOpu(defense);
  if (base === 'natural') return true;
  if (base === 'true') return model.training !== 'bp';
  if (base === 'bpda-none') return hasSign || hasOpu;
  return hasOpu; // bpda-random, bpda-true, bpda-estimated[:N] replace the OPU's backward
}
