/**
 * What each attack file exports to the registry: its name, a one-line description, its parameter schema, the
 * factory, and the facts (src/types.ts AttackFacts) it declares about itself. The facts of a configured attack are
 * on the attack (`attack.facts`) and recorded in each run; `facts(recorded)` derives them from the parameters
 * recorded in a results file written before runs carried them.
 */
import type { AttackFacts, Norm } from '../src/types';
import type { AttackFactory, ParamTable, RawParams } from './params';

export interface AttackDefinition {
  /** The registry name. */
  name: string;
  /** One line for `opulab list`. */
  description: string;
  params: ParamTable;
  create: AttackFactory;
  /** The facts of the attack `recorded` (parameters as a results file holds them, extra keys ignored) describes. */
  facts(recorded: RawParams): AttackFacts;
}

/** The losses that make an attack adaptive (margin-type, Carlini et al. 2019): DLR, CW and the logit margin. */
export const MARGIN_LOSSES: readonly string[] = ['dlr', 'cw', 'margin'];

/** Facts of a white-box gradient attack with `steps` steps on `loss`. */
export function gradientFacts(o: { norms: readonly Norm[]; steps: number; loss: string; ownStepSize?: boolean }): AttackFacts {
  return {
    threat: 'white-box',
    norms: o.norms,
    takesNorm: o.norms.length > 1,
    iterative: o.steps > 1,
    steps: o.steps,
    loss: o.loss,
    marginLoss: MARGIN_LOSSES.includes(o.loss),
    ownStepSize: o.ownStepSize ?? false,
  };
}

/** Facts of a black-box (score- or decision-based) attack with a per-example query budget. */
export function queryFacts(o: { threat: 'black-box-score' | 'decision'; norms: readonly Norm[]; queryBudget: number; loss?: string }): AttackFacts {
  const f: AttackFacts = {
    threat: o.threat,
    norms: o.norms,
    takesNorm: o.norms.length > 1,
    iterative: true,
    queryBudget: o.queryBudget,
    marginLoss: o.loss !== undefined && MARGIN_LOSSES.includes(o.loss),
    ownStepSize: false,
  };
  if (o.loss !== undefined) f.loss = o.loss;
  return f;
}
