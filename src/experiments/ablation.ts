/** The ablation table of an experiment's results (docs/method.md §5). */
import { builtinDefenseNames } from '../../defenses/registry';
import { formatEps } from '../../attacks/eps';
import type { AblationRow, ResultsFile } from '../results/schema';

/** Ablation table (docs/method.md §5): one row per defense variant, clean and worst robust accuracy per attack. */
export function ablationRows(results: ResultsFile): AblationRow[] {
  const builtins = builtinDefenseNames();
  const variants = results.models.filter((m) => builtins.includes(String(m.defense)));
  if (!variants.some((m) => String(m.defense).startsWith('dfa-'))) return [];
  return variants.map((m) => {
    const row: AblationRow = { variant: String(m.defense), model: m.id, cleanAccuracy: m.cleanAccuracy };
    for (const r of results.runs.filter((x) => x.model === m.id && x.eps > 0)) {
      const k = `${r.attack} ${formatEps(r.eps)} accuracy`;
      const prev = row[k];
      row[k] = typeof prev === 'number' ? Math.min(prev, r.robustAccuracy) : r.robustAccuracy;
    }
    return row;
  });
}
