/**
 * Optimizer-sweep rows for the report (reports/extras.ts OptimizerSweepRow): backbone x optimizer -> clean and
 * robust accuracy, to show backbone-optimizer coupling (BOCB, Li et al. 2024) together with robustness.
 *
 * Needs from each model record: `architecture` and `train.optimizer` (an optimizer name, or an object with a
 * `name`, as OptimizerConfig). `width` (record or train.width) is carried along when present.
 * Robust accuracy per model: among its runs of the chosen attack at the chosen eps, the LOWEST robust accuracy
 * (the strongest gradient mode is the honest number). Default attack: 'pgd' when any run used it, else the
 * attack with the most runs; default eps: the largest eps that attack was run at.
 */
import type { ModelRecord, RunRecord } from '../results/schema';
import type { OptimizerSweepRow } from '../results/schema';

export interface SweepOptions {
  attack?: string;
  /** Pixel units. */
  eps?: number;
}

/** The optimizer name recorded in a model record, or null. */
export function optimizerOf(model: ModelRecord): string | null {
  const o = model.train?.optimizer;
  if (typeof o === 'string' && o) return o;
  if (o && typeof o === 'object' && typeof (o as { name?: unknown }).name === 'string') return (o as { name: string }).name;
  return null;
}

function widthOf(model: ModelRecord): number | undefined {
  const w = model.width ?? model.train?.width;
  return typeof w === 'number' ? w : undefined;
}

function chooseAttack(runs: readonly RunRecord[], requested?: string): string | undefined {
  if (requested) return requested;
  if (runs.some((r) => r.attack === 'pgd')) return 'pgd';
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.attack, (counts.get(r.attack) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

const EPS_TOLERANCE = 1e-9;

/** One row per model that records an architecture and an optimizer (others are skipped). */
export function optimizerSweepExtras(models: readonly ModelRecord[], runs: readonly RunRecord[], opts: SweepOptions = {}): OptimizerSweepRow[] {
  const attack = chooseAttack(runs, opts.attack);
  const attackRuns = runs.filter((r) => r.attack === attack);
  const eps = opts.eps ?? (attackRuns.length ? Math.max(...attackRuns.map((r) => r.eps)) : undefined);
  const rows: OptimizerSweepRow[] = [];
  for (const m of models) {
    const optimizer = optimizerOf(m);
    if (!m.architecture || !optimizer) continue;
    const row: OptimizerSweepRow = { backbone: m.architecture, optimizer, cleanAccuracy: m.cleanAccuracy, model: m.id };
    const width = widthOf(m);
    if (width !== undefined) row.width = width;
    const mine = attackRuns.filter((r) => r.model === m.id && eps !== undefined && Math.abs(r.eps - eps) < EPS_TOLERANCE);
    if (mine.length) {
      const worst = mine.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
      row.robustAccuracy = worst.robustAccuracy;
      row.attack = attack;
      row.eps = eps;
      if (worst.gradient) row.gradient = worst.gradient;
    }
    rows.push(row);
  }
  return rows;
}
