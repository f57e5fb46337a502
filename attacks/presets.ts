/**
 * Attack presets as data: the CLI / experiment runner expands them into (attack, params, eps list) runs.
 * Step sizes given as `stepSize` are in the group's eps space and are converted with the eps (see eps.ts).
 *
 * - reference-whitebox: the protocol of Cappelli et al. (docs/method.md §5): FGSM and PGD-50, step 0.01, no
 *   random start, L-inf, eps {0, .01, ..., .05} in NORMALIZED units.
 * - standard: RobustBench-comparable budgets, 8/255 L-inf and 0.5 L2 in pixel units: PGD-50 with random
 *   start (step 2.5 eps / 50), APGD-CE and APGD-DLR (100 steps each, as in AutoAttack).
 */
import type { EpsSpace, Norm } from '../src/types';
import { UserError } from '../src/util/errors';
import { toPixelEps } from './eps';
import type { WhiteboxAttackName } from './whitebox';

export interface PresetAttack {
  attack: WhiteboxAttackName;
  params: Readonly<Record<string, unknown>>;
}

export interface PresetGroup {
  norm: Norm;
  epsSpace: EpsSpace;
  eps: readonly number[];
  attacks: readonly PresetAttack[];
}

export interface AttackPreset {
  name: string;
  description: string;
  groups: readonly PresetGroup[];
}

export type PresetName = 'reference-whitebox' | 'standard';

const standardGroup = (norm: Norm, eps: number): PresetGroup => ({
  norm,
  epsSpace: 'pixel',
  eps: [eps],
  attacks: [
    { attack: 'pgd', params: { norm, steps: 50, relStepSize: 2.5 / 50, randomStart: true, restarts: 1 } },
    { attack: 'apgd-ce', params: { norm, steps: 100, restarts: 1 } },
    { attack: 'apgd-dlr', params: { norm, steps: 100, restarts: 1 } },
  ],
});

export const ATTACK_PRESETS: Readonly<Record<PresetName, AttackPreset>> = {
  'reference-whitebox': {
    name: 'reference-whitebox',
    description: 'FGSM + PGD-50 (step 0.01, no random start), L-inf, eps 0..0.05 normalized (Cappelli et al.)',
    groups: [
      {
        norm: 'linf',
        epsSpace: 'normalized',
        eps: [0, 0.01, 0.02, 0.03, 0.04, 0.05],
        attacks: [
          { attack: 'fgsm', params: { norm: 'linf', loss: 'ce' } },
          { attack: 'pgd', params: { norm: 'linf', steps: 50, stepSize: 0.01, randomStart: false, restarts: 1 } },
        ],
      },
    ],
  },
  standard: {
    name: 'standard',
    description: 'PGD-50 (random start) + APGD-CE + APGD-DLR at 8/255 L-inf and 0.5 L2 (pixel units)',
    groups: [standardGroup('linf', 8 / 255), standardGroup('l2', 0.5)],
  },
};

export const PRESET_NAMES = Object.keys(ATTACK_PRESETS) as PresetName[];

/** One concrete run of an expanded preset: pixel-unit eps and params ready for the attack factory. */
export interface ExpandedPresetRun {
  attack: WhiteboxAttackName;
  params: Record<string, unknown>;
  norm: Norm;
  epsSpace: EpsSpace;
  /** As written in the preset, in epsSpace units. */
  epsInSpace: number[];
  /** Pixel units. */
  eps: number[];
}

export function getPreset(name: string): AttackPreset {
  const p = (ATTACK_PRESETS as Record<string, AttackPreset>)[name];
  if (!p) throw new UserError(`unknown attack preset '${name}': expected one of ${PRESET_NAMES.join(', ')}`);
  return p;
}

/** Expand a preset for a model with the given normalization std (converting normalized eps and stepSize). */
export function expandPreset(name: string, normalizationStd: readonly number[]): ExpandedPresetRun[] {
  const preset = getPreset(name);
  const runs: ExpandedPresetRun[] = [];
  for (const g of preset.groups) {
    for (const a of g.attacks) {
      const params: Record<string, unknown> = { ...a.params };
      if (typeof params.stepSize === 'number') {
        params.stepSize = toPixelEps([params.stepSize], g.epsSpace, normalizationStd)[0];
      }
      runs.push({
        attack: a.attack,
        params,
        norm: g.norm,
        epsSpace: g.epsSpace,
        epsInSpace: [...g.eps],
        eps: toPixelEps(g.eps, g.epsSpace, normalizationStd),
      });
    }
  }
  return runs;
}
