/**
 * The gradient modes built-in defenses (and plugins on their heads) declare, with the surrogate each one means
 * (BPDA: Athalye et al. 2018). A defense lists the ones that apply to it; the classifier (src/models/classifier.ts)
 * accepts only those.
 */
import type { DefenseContext, GradientModeDecl } from './types';

/** What the trained model exposes: the DFA synthetic path for dfa/hybrid models, plain backprop for bp models. */
export const NATURAL: GradientModeDecl = {
  name: 'natural',
  surrogate: 'what the trained model exposes: the DFA synthetic path (e·B at the feedback point) for dfa/hybrid models, backprop for bp models; non-differentiable stages give their true (zero) gradient',
  path: { dfa: true, sign: 'zero', opu: 'none' },
};

/** Exact backprop of the forward pass: no feedback points, Sign's true zero gradient, the true OPU matrix. */
export const TRUE: GradientModeDecl = {
  name: 'true',
  surrogate: 'exact backprop of the forward pass (no feedback points; Sign: its true zero gradient; OPU: the true matrix)',
  path: { dfa: false, sign: 'zero', opu: 'true' },
};

export const BPDA_RANDOM: GradientModeDecl = {
  name: 'bpda-random',
  surrogate: 'straight-through Sign + a separate fixed random backward matrix for the OPU (an attacker ignorant of the matrix)',
  path: { dfa: false, sign: 'ste', opu: 'random', inputTransform: 'surrogate' },
  signSurrogate: true,
};

export const BPDA_TRUE: GradientModeDecl = {
  name: 'bpda-true',
  surrogate: 'straight-through Sign + the true transmission matrix (oracle upper bound)',
  path: { dfa: false, sign: 'ste', opu: 'true', inputTransform: 'surrogate' },
  signSurrogate: true,
};

export const BPDA_ESTIMATED: GradientModeDecl = {
  name: 'bpda-estimated',
  surrogate: 'straight-through Sign + a matrix estimated from N OPU queries (system identification)',
  path: { dfa: false, sign: 'ste', opu: 'estimated', inputTransform: 'surrogate' },
  argument: 'N',
  defaultArgument: 4000,
  signSurrogate: true,
};

export const BPDA_NONE: GradientModeDecl = {
  name: 'bpda-none',
  surrogate: 'straight-through Sign, zero gradient through the OPU',
  path: { dfa: false, sign: 'ste', opu: 'none', inputTransform: 'surrogate' },
  signSurrogate: true,
};

/** Every mode name a built-in declares, in `opulab list` order. */
export const BUILTIN_MODE_NAMES = ['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-estimated', 'bpda-none'] as const;

/** natural, plus `true` where it differs from natural (DFA-trained models: natural is the synthetic path). */
export function naturalAndTrue(ctx: DefenseContext): GradientModeDecl[] {
  return ctx.training === 'bp' ? [NATURAL] : [NATURAL, TRUE];
}
