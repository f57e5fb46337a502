/**
 * The Classifier seam for a trained Network: eval-mode logits and the input gradient the model EXPOSES under
 * a chosen gradient mode (advertorch-style BPDA: the surrogate lives on the model, not in each attack).
 *
 * The gradient modes valid for a model are the ones its DEFENSE declares (defenses/, `gradientModes`), each with
 * the surrogate it means: natural, true, bpda-random, bpda-true, bpda-estimated[:N], bpda-none for the built-in
 * optical head and its ablations as they apply, and whatever a plugin declares. `signSurrogate` swaps the
 * straight-through estimator of a Sign for tanh(beta x) ("tanh:5") or the true zero gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Classifier, LossAndGradient, LossFn } from '../types';
import { UserError } from '../util/errors';
import { lossAndInputGradient } from '../util/loss-gradient';
import { Network } from './network';
import type { GradientPath } from './head';
import { DfaSession } from './dfa';
import { modelId } from './config';
import { SignGradientMode } from '../optics/encoders';
import type { OpticalProcessingUnit } from '../optics/opu';
import type { BlackBoxOpu } from '../optics/sysid';
import type { GradientModeDecl } from '../../defenses/types';
import { defenseContext, findGradientMode } from '../../defenses/registry';
import { BUILTIN_MODE_NAMES } from '../../defenses/gradient-modes';

/** Every gradient mode a built-in defense may declare (`opulab list`, help texts); plugins may add their own. */
export const GRADIENT_MODES = BUILTIN_MODE_NAMES;

export interface GradientModeSpec {
  /** Canonical text, recorded in results, e.g. "bpda-estimated:2000". */
  label: string;
  path: GradientPath;
  /** OPU queries for system identification (bpda-estimated). */
  estimateQueries?: number;
}

function parseSignSurrogate(signSurrogate: string): { sign: SignGradientMode; signBeta?: number } {
  const [s, b] = signSurrogate.split(':');
  if (s === 'ste' || s === 'zero') return { sign: s };
  if (s === 'tanh') {
    const signBeta = b === undefined ? 1 : Number(b);
    if (!(signBeta > 0)) throw new UserError(`bad tanh surrogate slope '${b}': expected a positive number, e.g. tanh:5`);
    return { sign: 'tanh', signBeta };
  }
  throw new UserError(`unknown sign surrogate '${signSurrogate}': expected ste, tanh[:beta] or zero`);
}

/** A declared mode + the user's text ('bpda-estimated:2000') + sign surrogate -> what the classifier runs. */
export function gradientModeSpec(decl: GradientModeDecl, text: string, signSurrogate = 'ste'): GradientModeSpec {
  const { sign, signBeta } = parseSignSurrogate(signSurrogate);
  const swapSign = decl.signSurrogate === true && signSurrogate !== 'ste';
  const path: GradientPath = { ...decl.path, ...(swapSign ? { sign, signBeta } : {}) };
  const suffix = swapSign ? `+sign-${signSurrogate}` : '';
  if (decl.argument === 'N') {
    const arg = text.split(':')[1];
    const n = arg === undefined ? decl.defaultArgument ?? 4000 : Number(arg);
    if (!Number.isInteger(n) || n <= 0) throw new UserError(`bad query count '${arg}' in '${text}': expected ${decl.name}:N with N a positive integer`);
    return { label: `${decl.name}:${n}${suffix}`, path, estimateQueries: n };
  }
  return { label: (decl.recordAs ?? decl.name) + suffix, path };
}

/**
 * Check a gradient-mode text before any model is loaded: a well-formed name (`bpda-estimated:N` with N a positive
 * integer) and a valid sign surrogate. Whether the model's defense declares the mode is checked once the model is
 * known (resolveGradientMode; spec validation asks the defense of each model entry).
 */
export function checkGradientModeText(text: string, signSurrogate = 'ste'): void {
  parseSignSurrogate(signSurrogate);
  const [name, arg, ...rest] = text.split(':');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || rest.length > 0) {
    throw new UserError(`bad gradient mode '${text}': expected a mode name such as natural, bpda-random or bpda-estimated:N`);
  }
  if (arg !== undefined && !/^[1-9][0-9]*$/.test(arg)) throw new UserError(`bad query count '${arg}' in '${text}': expected ${name}:N with N a positive integer`);
}

/** The modes a network's defense declares (for its training method). */
export function gradientModesOf(net: Network): GradientModeDecl[] {
  return net.defense.gradientModes(defenseContext(net.config));
}

/** Resolve `--gradient TEXT` against the modes the network's defense declares; anything else is a UserError listing them. */
export function resolveGradientMode(net: Network, text: string, signSurrogate = 'ste'): GradientModeSpec {
  const modes = gradientModesOf(net);
  const decl = findGradientMode(modes, text);
  if (!decl) {
    const known = modes.map((m) => (m.argument ? `${m.name}[:N]` : m.name)).join(', ');
    throw new UserError(`unknown gradient mode '${text}' for model '${modelId(net.config)}' (defense ${net.defense.name}): expected one of ${known}`);
  }
  return gradientModeSpec(decl, text, signSurrogate);
}

export class NetworkClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape = [32, 32, 3] as const;
  readonly normalizationStd: readonly number[];
  readonly gradientMode: string;
  private readonly path: GradientPath;

  constructor(readonly net: Network, mode: GradientModeSpec, id?: string) {
    this.id = id ?? modelId(net.config);
    this.numClasses = net.config.numClasses;
    this.normalizationStd = net.config.normalization.std;
    // A bp-trained model has no feedback points: a DFA path (natural) is plain backprop through the true stages.
    this.path = mode.path.dfa && !net.feedback ? { ...mode.path, dfa: false, sign: 'zero', opu: 'true' } : mode.path;
    this.gradientMode = mode.label;
  }

  get stochastic(): boolean {
    return this.net.stochastic;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return this.net.predictLogits(x);
  }

  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    const session = this.path.dfa ? new DfaSession(this.net.feedback!) : undefined;
    try {
      const forward = (xx: tf.Tensor4D): tf.Tensor2D => this.net.forward(xx, { training: false, gradient: this.path, dfaSession: session });
      return lossAndInputGradient(forward, x, labels, loss);
    } finally {
      session?.dispose();
    }
  }
}

export interface ClassifierForOptions {
  /**
   * Who answers the system-identification queries of bpda-estimated (default: the OPU layer itself, on tfjs):
   * the same OPU on another engine (src/engine/opu-queries.ts). Called only when the mode estimates.
   */
  blackBox?: (opu: OpticalProcessingUnit) => BlackBoxOpu & { dispose?(): void };
}

/**
 * A classifier for a network under a gradient mode. For bpda-estimated the OPU's matrix is first estimated from
 * `estimateQueries` input/output pairs (seeded), as an attacker without access to the hardware internals would.
 */
export function classifierFor(net: Network, gradientMode = 'natural', signSurrogate = 'ste', seed = 0, opts: ClassifierForOptions = {}): NetworkClassifier {
  const spec = resolveGradientMode(net, gradientMode, signSurrogate);
  if (spec.estimateQueries !== undefined) {
    if (!net.opu) throw new UserError(`gradient mode '${gradientMode}' needs a model with an OPU; '${modelId(net.config)}' has none`);
    const box = opts.blackBox?.(net.opu);
    try {
      net.opu.estimateFromQueries(spec.estimateQueries, seed, {}, box ?? net.opu);
    } finally {
      box?.dispose?.();
    }
  }
  return new NetworkClassifier(net, spec);
}
