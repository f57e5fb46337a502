/**
 * Query statistics of a black-box run: success rate versus queries (the reference protocol's plot) and the
 * mean / median queries of the successful examples.
 */
import type { QueryStats } from '../../src/results/schema';
import { UserError } from '../../src/util/errors';

/**
 * Success-rate-versus-queries curve: [q, fraction of the examples that succeeded with <= q queries].
 * The denominator is every example passed in (pass only the attacked ones, e.g. the clean-correct set).
 * Points: every distinct query count of a success (a step curve), plus the budget when given; thinned to
 * at most `maxPoints` (always keeping the last point).
 */
export function successCurve(
  success: readonly boolean[],
  queries: readonly number[],
  options: { budget?: number; maxPoints?: number } = {},
): [number, number][] {
  checkLengths(success, queries);
  const n = success.length;
  if (n === 0) return [];
  const qs = queries.filter((_, i) => success[i]).sort((a, b) => a - b);
  const points: [number, number][] = [];
  for (let i = 0; i < qs.length; i++) {
    if (i + 1 < qs.length && qs[i + 1] === qs[i]) continue;
    points.push([qs[i], (i + 1) / n]);
  }
  const last = points.length ? points[points.length - 1] : undefined;
  if (options.budget !== undefined && (!last || last[0] < options.budget)) points.push([options.budget, qs.length / n]);
  const maxPoints = Math.max(2, options.maxPoints ?? 200);
  if (points.length <= maxPoints) return points;
  const thinned: [number, number][] = [];
  const step = (points.length - 1) / (maxPoints - 1);
  for (let k = 0; k < maxPoints; k++) thinned.push(points[Math.round(k * step)]);
  return thinned;
}

/** Mean and median queries of the successful examples plus the curve; undefined when nothing succeeded. */
export function queryStats(
  success: readonly boolean[],
  queries: readonly number[],
  options: { budget?: number; maxPoints?: number } = {},
): QueryStats | undefined {
  checkLengths(success, queries);
  const qs = queries.filter((_, i) => success[i]).sort((a, b) => a - b);
  if (qs.length === 0) return undefined;
  const mean = qs.reduce((a, b) => a + b, 0) / qs.length;
  const mid = qs.length >> 1;
  const median = qs.length % 2 === 1 ? qs[mid] : (qs[mid - 1] + qs[mid]) / 2;
  return { mean, median, curve: successCurve(success, queries, options) };
}

function checkLengths(success: readonly boolean[], queries: readonly number[]): void {
  if (success.length !== queries.length) {
    throw new UserError(`success has ${success.length} entries but queries has ${queries.length}: expected equal lengths`);
  }
  for (const q of queries) {
    if (!(q >= 0) || !Number.isFinite(q)) throw new UserError(`bad query count ${q}: expected a finite number >= 0`);
  }
}
