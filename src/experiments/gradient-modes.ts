/**
 * Which attacker-gradient modes apply to a model: the ones its defense declares (defenses/, each defense lists its
 * own with the surrogate each one means). The runner (which jobs it plans) and spec validation (which gradient
 * lists are meaningful) both ask here.
 */
import type { ModelConfig } from '../models/config';
import { defenseContext, defenseForConfig } from '../../defenses/registry';
import type { GradientModeDecl } from '../../defenses/types';

/** The gradient modes the defense of `config` declares. */
export function declaredGradientModes(config: ModelConfig): GradientModeDecl[] {
  return defenseForConfig(config).gradientModes(defenseContext(config));
}

/** The modes as users write them, for messages: 'natural, bpda-random, bpda-estimated[:N]'. */
export function formatGradientModes(modes: readonly GradientModeDecl[]): string {
  return modes.map((m) => (m.argument ? `${m.name}[:N]` : m.name)).join(', ');
}
