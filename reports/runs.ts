/** Helpers that classify and group result runs (shared by checks, summary table and charts). */
import type { AttackFacts } from '../src/types';
import type { ModelRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { attackFactsByName } from '../attacks/registry';
import { MARGIN_LOSSES } from '../attacks/definition';
import { attackLabel, formatValue } from './format';

/** Two eps closer than this (pixel units) are the same eps: they come from the same k/255 or decimal. */
export const EPS_MATCH_TOLERANCE = 1e-6;

export function sameEps(a: number, b: number): boolean {
  return Math.abs(a - b) <= EPS_MATCH_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

/** A stable map key for an eps (rounded so float noise from 8/255 does not split groups). */
export function epsKey(eps: number): string {
  return eps.toFixed(6);
}

export function numParam(run: RunRecord, ...names: string[]): number | undefined {
  for (const n of names) {
    const v = run.params[n];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

export function strParam(run: RunRecord, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = run.params[n];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

/** Gradient path of a run; white-box runs without one used the model's natural gradient. */
export function gradientOf(run: RunRecord): string {
  return run.gradient ?? (run.threat === 'white-box' ? 'natural' : '');
}

/**
 * What the run's attack declared about itself: the facts recorded in the run, or, for results written before runs
 * carried them, the facts the attack registered under exactly this name gives for the recorded parameters.
 * Undefined for an attack the registry does not know (a plugin that is not loaded) that recorded none.
 */
export function factsOf(run: RunRecord): AttackFacts | undefined {
  return run.facts ?? attackFactsByName(run.method ?? run.attack, run.params);
}

/** FGSM-like: one gradient step (an attack without facts: one recorded step). */
export function isSingleStep(run: RunRecord): boolean {
  if (run.threat !== 'white-box') return false;
  const facts = factsOf(run);
  return facts ? !facts.iterative : numParam(run, 'steps', 'iterations') === 1;
}

/** PGD-like: several gradient steps (an attack without facts: more than one recorded step). */
export function isIterative(run: RunRecord): boolean {
  if (run.threat !== 'white-box') return false;
  const facts = factsOf(run);
  if (facts) return facts.iterative;
  const steps = numParam(run, 'steps', 'iterations');
  return steps !== undefined && steps > 1;
}

/** Adaptive attack (C17): a margin-type loss (DLR, CW, the logit margin), declared or recorded as `loss`. */
export function isAdaptive(run: RunRecord): boolean {
  const facts = factsOf(run);
  return facts ? facts.marginLoss : MARGIN_LOSSES.includes(strParam(run, 'loss') ?? '');
}

/** The attack chooses its own step sizes (APGD), so it records no stepSize. */
export function choosesOwnStepSize(run: RunRecord): boolean {
  return factsOf(run)?.ownStepSize ?? false;
}

/** Every model id of a results file: its model records in order, then models that only runs name. */
export function modelIds(results: ResultsFile): string[] {
  const ids = results.models.map((m) => m.id);
  for (const r of results.runs) if (!ids.includes(r.model)) ids.push(r.model);
  return ids;
}

export function modelById(results: ResultsFile, id: string): ModelRecord | undefined {
  return results.models.find((m) => m.id === id);
}

/**
 * Undefended model: `defense` is "none" (or absent and the id says so: "-none-", "baseline", "undefended"); a
 * plugin defense (defenseInfo.source "file") always counts as defended.
 */
export function isUndefendedModel(model: ModelRecord | undefined, id: string): boolean {
  if (model?.defenseInfo?.source === 'file') return false; // a plugin defense is a defense, whatever head it runs on
  const d = model?.defense;
  if (typeof d === 'string') return /^(none|baseline|undefended)$/i.test(d);
  return /(^|-)none(-|$)|baseline|undefended/i.test(id);
}

export function isDefendedId(results: ResultsFile, id: string): boolean {
  return !isUndefendedModel(modelById(results, id), id);
}

/** A model whose forward pass is random (camera noise, random transforms): needs EOT (C9). */
export function isStochasticModel(results: ResultsFile, id: string): boolean {
  const m = modelById(results, id);
  if (m && m.stochastic === true) return true;
  return results.runs.some((r) => r.model === id && r.params.stochastic === true);
}

/**
 * The identity of a curve across eps: same model, attack, threat, norm, gradient, source and the
 * hyperparameters that define the attack's strength (steps, restarts, loss, query budget).
 */
export function seriesKey(run: RunRecord): string {
  return JSON.stringify([
    run.model,
    run.attack,
    run.threat,
    run.norm,
    gradientOf(run),
    run.source ?? '',
    numParam(run, 'steps', 'iterations') ?? null,
    numParam(run, 'restarts') ?? null,
    strParam(run, 'loss') ?? null,
    numParam(run, 'maxQueries', 'queries') ?? null,
  ]);
}

/** A short human label for a series: "PGD (bpda-true, 50 steps)", "PGD transfer from vgg16-...". */
export function seriesLabel(run: RunRecord, withSteps: boolean): string {
  const inner: string[] = [];
  const g = gradientOf(run);
  if (run.threat === 'white-box' && g) inner.push(g);
  if (withSteps) {
    const steps = numParam(run, 'steps', 'iterations');
    const restarts = numParam(run, 'restarts');
    if (steps !== undefined && run.threat === 'white-box') inner.push(`${steps} step${steps === 1 ? '' : 's'}`);
    if (restarts !== undefined && restarts > 1) inner.push(`${restarts} restarts`);
  }
  const head = attackLabel(run.attack) + (run.threat === 'transfer' && run.source ? ` transfer from ${run.source}` : '');
  return head + (inner.length ? ` (${inner.join(', ')})` : '');
}

export function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** Pixel-per-normalized-unit factor for a model (the normalization std), when the results reveal it. */
export function normalizationStdOf(results: ResultsFile, modelId: string): number | undefined {
  const m = modelById(results, modelId);
  const std = m?.normalizationStd;
  if (Array.isArray(std) && std.length && std.every((s) => typeof s === 'number' && s > 0)) {
    // Per-channel std differs slightly on CIFAR-100; the axis uses the mean (documented on the chart).
    return (std as number[]).reduce((a, b) => a + b, 0) / std.length;
  }
  const run =
    results.runs.find((r) => r.model === modelId && r.epsSpace === 'normalized' && (r.epsInSpace ?? 0) > 0) ??
    results.runs.find((r) => r.epsSpace === 'normalized' && (r.epsInSpace ?? 0) > 0);
  return run && run.epsInSpace ? run.eps / run.epsInSpace : undefined;
}

/** Parameters that never tell two runs apart for a reader (seeds, batching, bookkeeping). */
const IGNORED_PARAMS = new Set(['seed', 'batchSize', 'maxRowsPerCall', 'norm', 'stepSize', 'sourceThreat']);

/**
 * The parameters that tell runs of one series apart beyond eps: those whose values differ between two runs at
 * the same eps (a step size that merely follows eps is not one).
 */
export function varyingParams(runs: RunRecord[]): string[] {
  const keys = new Set<string>();
  for (const atEps of groupBy(runs, (r) => epsKey(r.eps)).values()) {
    const all = new Set(atEps.flatMap((r) => Object.keys(r.params)));
    for (const k of all) {
      if (IGNORED_PARAMS.has(k)) continue;
      const values = new Set(atEps.map((r) => JSON.stringify(r.params[k] ?? null)));
      if (values.size > 1) keys.add(k);
    }
  }
  return [...keys].sort();
}

/** The values of `keys` (from varyingParams) in a run, and its EOT samples: "fdEta 0.5, EOT 10". */
export function variantLabel(run: RunRecord, keys: string[]): string {
  const parts = keys.filter((k) => run.params[k] !== undefined).map((k) => `${k} ${formatValue(run.params[k])}`);
  if (run.eot && run.eot.samples > 1) parts.push(`EOT ${run.eot.samples}`);
  return parts.join(', ');
}
