/**
 * The per-example worst case over attacks at one eps, AutoAttack style (C14), which the report and the headline
 * also use.
 */
import type { CheckRecord, PerSampleRecord, ResultsFile, RunRecord } from '../../src/results/schema';
import { formatEps, pct } from '../format';
import { epsKey, groupBy, sameEps } from '../runs';
import { correctAfter, Finding, summarize, strongest, label, Check, PerSampleLoader } from './common';
import { C14_GAP_NOTE } from './thresholds';

// ---- C14 per-example worst case over attacks -----------------------------------------------------------
export interface WorstCase {
  model: string;
  /** Pixel units. */
  eps: number;
  norm: 'linf' | 'l2';
  /** Accuracy under the per-example worst case over `runs` (an upper bound when `perExample` is false). */
  accuracy: number;
  /** Examples the per-example worst case was computed on (the run size when aggregate). */
  n: number;
  /** True when every run had per-sample records, so the worst case is exact. */
  perExample: boolean;
  /** The runs combined (all threats, including noise). */
  runs: RunRecord[];
  /** The strongest single run and its accuracy. */
  bestSingle: RunRecord;
}

export interface WorstCaseOptions {
  /**
   * Also combine the runs at smaller positive eps of the same norm (an adversarial example within a smaller ball
   * is one within this ball): e.g. black-box runs at 8/256 in the worst case at 8/255. The headline uses it.
   */
  withinEps?: boolean;
  /** Only the runs it accepts (e.g. the white-box runs through one gradient mode). */
  runs?: (run: RunRecord) => boolean;
}

/**
 * Accuracy when each example counts as robust only if EVERY attack at this eps left it correct
 * (C14; AutoAttack-style worst case). Runs with per-sample records are combined per example over the
 * indices they all cover; runs without them contribute their aggregate accuracy as an upper bound.
 * Returns null when the model has no run at this eps and norm.
 */
export function worstCaseAccuracy(
  results: ResultsFile,
  perSample: PerSampleLoader,
  model: string,
  eps: number,
  norm: 'linf' | 'l2' = 'linf',
  opts: WorstCaseOptions = {},
): WorstCase | null {
  // A point inside a smaller ball of the same norm is inside this one too: with `withinEps`, such runs count.
  const inBall = (r: RunRecord): boolean => sameEps(r.eps, eps) || (opts.withinEps === true && r.eps > 0 && r.eps < eps);
  const runs = results.runs.filter((r) => r.model === model && r.norm === norm && inBall(r) && (opts.runs?.(r) ?? true));
  if (!runs.length) return null;
  const bestSingle = strongest(runs);
  const loaded = runs.map((r) => ({ run: r, recs: perSample(r) }));
  const withRecs = loaded.filter((x): x is { run: RunRecord; recs: PerSampleRecord[] } => x.recs !== null && x.recs.length > 0);
  // Runs without records can only bound the worst case from above by their own accuracy.
  let accuracy = Math.min(...loaded.filter((x) => !x.recs || !x.recs.length).map((x) => x.run.robustAccuracy), Infinity);
  let n = bestSingle.n;
  if (withRecs.length) {
    const maps = withRecs.map((x) => correctAfter(x.recs));
    const common = [...maps[0].keys()].filter((i) => maps.every((m) => m.has(i)));
    if (common.length) {
      const robust = common.filter((i) => maps.every((m) => m.get(i) === true)).length;
      accuracy = Math.min(accuracy, robust / common.length);
      n = common.length;
    } else {
      accuracy = Math.min(accuracy, ...withRecs.map((x) => x.run.robustAccuracy));
    }
  }
  return { model, eps, norm, accuracy, n, perExample: withRecs.length === runs.length, runs, bestSingle };
}

function perExampleWorstCase(results: ResultsFile, load: PerSampleLoader): CheckRecord {
  if (!results.runs.some((r) => r.perSample)) {
    return { id: 'C14', status: 'skipped', detail: 'no run has per-sample records (run.perSample); save them so the per-example worst case over attacks can be computed' };
  }
  const f: Finding[] = [];
  const groups = groupBy(results.runs, (r) => [r.model, r.norm, epsKey(r.eps)].join('|'));
  let biggestGap: { wc: WorstCase; gap: number } | null = null;
  for (const runs of groups.values()) {
    if (runs.length < 2) continue;
    const wc = worstCaseAccuracy(results, load, runs[0].model, runs[0].eps, runs[0].norm);
    if (!wc) continue;
    if (!wc.perExample) {
      const missing = wc.runs.filter((r) => !load(r)).map((r) => label(r));
      f.push({
        status: 'warn',
        detail: `on ${wc.model} at eps ${formatEps(wc.eps)}, ${missing.join(', ')} lack per-sample records, so the worst case (${pct(wc.accuracy)}) is only an upper bound; save perSample for every run`,
      });
      continue;
    }
    const gap = wc.bestSingle.robustAccuracy - wc.accuracy;
    if (!biggestGap || gap > biggestGap.gap) biggestGap = { wc, gap };
    f.push({ status: 'pass', detail: '' });
  }
  return summarize('C14', f, 'no model has two or more runs at the same eps to combine', (n) => {
    if (!biggestGap) return `per-example worst case computed for ${n} model/eps groups`;
    const { wc, gap } = biggestGap;
    if (gap <= 0) return `per-example worst case computed for ${n} model/eps groups; it equals the best single attack everywhere`;
    return `per-example worst case computed for ${n} model/eps groups; largest gain on ${wc.model} at eps ${formatEps(wc.eps)}: ${pct(wc.accuracy)} vs ${pct(wc.bestSingle.robustAccuracy)} for the best single attack (${label(wc.bestSingle)})${gap > C14_GAP_NOTE ? ' — quote the worst case' : ''}`;
  });
}

/** C14: per-example worst case (docs/method.md §6). */
export const perExampleWorstCaseCheck: Check = { id: 'C14', name: 'perExampleWorstCase', title: 'per-example worst case', compute: perExampleWorstCase };
