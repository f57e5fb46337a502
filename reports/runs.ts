/** Helpers that classify and group result runs (shared by checks, summary table and charts). */
import type { ModelRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { attackLabel } from './format';

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

/** FGSM-like: one gradient step. */
export function isSingleStep(run: RunRecord): boolean {
  if (run.threat !== 'white-box') return false;
  const steps = numParam(run, 'steps', 'iterations');
  return /^fgsm$|^fgm$/i.test(run.attack) || steps === 1;
}

/** PGD-like: several gradient steps. */
export function isIterative(run: RunRecord): boolean {
  if (run.threat !== 'white-box') return false;
  const steps = numParam(run, 'steps', 'iterations');
  return steps !== undefined ? steps > 1 : /pgd|bim|apgd|cw|mifgsm/i.test(run.attack);
}

/** Adaptive attack (C17): margin / DLR / CW-style loss, or an attack built on one (APGD-DLR, CW). */
export function isAdaptive(run: RunRecord): boolean {
  const loss = strParam(run, 'loss') ?? '';
  return /dlr|margin|cw/i.test(loss) || /apgd-dlr|dlr|^cw|margin/i.test(run.attack);
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
