/**
 * The five claims of the paper opulab implements (Cappelli et al., ICASSP 2022), judged from a results file by
 * fixed decision rules (docs/reproduction/README.md gives them in prose; they were written before the
 * reproduction's attacks ran). Each verdict comes with the numbers that decide it. The rules read the per-example
 * worst case (check C14) over the attacks they name, with a gap under 2 points read as no difference and a gap of
 * 10 points or more as a clear one: on 1000 images a robust accuracy has a standard error of at most 1.6 points.
 *
 * The models are found by their names in the spec (`ClaimModels`, by default the reproduction spec's).
 */
import type { ModelRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { worstCaseAccuracy, type PerSampleLoader, type WorstCase } from './checks';
import { declaredName, isOracleRunOf, oracleModes } from './gradient-modes';
import { attackLabel, pct, points } from './format';
import { epsKey, gradientOf, variantLabel, varyingParams } from './runs';

/** A gap at least this large (a fraction: 0.10 = 10 points) is a clear difference. */
export const CLEAR_GAP = 0.1;
/** A gap below this is no difference. */
export const NO_DIFFERENCE = 0.02;
/** The white-box and black-box eps of the rules (pixel L-inf; black-box runs at 8/256 count, being inside it). */
export const CLAIM_EPS = 8 / 255;
/** Claim 5's transfer eps, in normalized units as the spec gives it. */
export const TRANSFER_EPS_NORMALIZED = 0.04;

export interface ClaimModels {
  baseline: string;
  optical: string;
  physical: string;
  dfaOnly: string;
}

/** The reproduction spec's model names (examples/reproduction-cifar10.json). */
export const REPRODUCTION_MODELS: ClaimModels = { baseline: 'baseline', optical: 'optical', physical: 'optical-physical', dfaOnly: 'dfa-only' };

export type Verdict = 'holds' | 'holds at a cost' | 'holds weakly' | 'holds only against' | 'holds only for the optical model' | 'does not hold' | 'not decidable';

export interface ClaimAssessment {
  claim: 1 | 2 | 3 | 4 | 5;
  statement: string;
  verdict: Verdict;
  /** The verdict as a sentence, with what "only against" names. */
  verdictText: string;
  /** The numbers that decide it, as a sentence ('—' when not decidable: the verdict says what is missing). */
  deciding: string;
}

const STATEMENTS: Record<ClaimAssessment['claim'], string> = {
  1: 'The optical defense keeps natural accuracy (hybrid backprop + DFA training).',
  2: 'White-box robustness: no reliable backward approximation of the unknown transmission matrix can be built.',
  3: 'The hybrid synthetic-gradient path is a poor way to craft adversarial examples.',
  4: 'Binarization plus random projection improves robustness against black-box attacks.',
  5: 'Hybrid training builds features that resist transfer attacks.',
};

function byName(results: ResultsFile, name: string): ModelRecord | undefined {
  return results.models.find((m) => m.name === name) ?? results.models.find((m) => m.id === name);
}

function undecidable(claim: ClaimAssessment['claim'], why: string): ClaimAssessment {
  return { claim, statement: STATEMENTS[claim], verdict: 'not decidable', verdictText: `not decidable: ${why}`, deciding: '—' };
}

/** A run's gradient mode as its defense declares it (bpda-estimated:2000 -> bpda-estimated). */
function modeName(run: RunRecord): string {
  return declaredName(gradientOf(run));
}

/** The per-example worst case at 8/255 over the runs `accept` takes, those at a smaller L-inf eps included. */
export function worstCaseAtClaimEps(results: ResultsFile, load: PerSampleLoader, model: string, accept: (r: RunRecord) => boolean): WorstCase | null {
  return worstCaseAccuracy(results, load, model, CLAIM_EPS, 'linf', { withinEps: true, runs: accept });
}

export const isWhiteBoxRun = (r: RunRecord): boolean => r.threat === 'white-box';
export const isBlackBoxRun = (r: RunRecord): boolean => r.threat === 'black-box-score' || r.threat === 'decision';

/** Accuracy of a model under transfer PGD at normalized eps 0.04, on the common-correct images (claim 5's number). */
export function transferPgdAccuracy(results: ResultsFile, modelId: string): number | undefined {
  return results.runs.find(
    (r) =>
      r.model === modelId &&
      r.threat === 'transfer' &&
      /pgd/.test(r.attack) &&
      r.epsSpace === 'normalized' &&
      typeof r.epsInSpace === 'number' &&
      Math.abs(r.epsInSpace - TRANSFER_EPS_NORMALIZED) < 1e-9 &&
      r.commonCorrect,
  )?.commonCorrect?.robustAccuracy;
}
const gap = (a: number, b: number): string => points(a - b);

function claim1(results: ResultsFile, names: ClaimModels): ClaimAssessment {
  const base = byName(results, names.baseline);
  const opt = byName(results, names.optical);
  if (!base || !opt) return undecidable(1, `no model named '${!base ? names.baseline : names.optical}'`);
  const d = base.cleanAccuracy - opt.cleanAccuracy;
  const phys = byName(results, names.physical);
  const physText = phys ? `; the physical-mode model ${pct(phys.cleanAccuracy)} (${gap(phys.cleanAccuracy, base.cleanAccuracy)})` : '';
  const deciding = `clean accuracy: baseline ${pct(base.cleanAccuracy)}, optical ${pct(opt.cleanAccuracy)} (${gap(opt.cleanAccuracy, base.cleanAccuracy)})${physText}`;
  if (d <= NO_DIFFERENCE) return { claim: 1, statement: STATEMENTS[1], verdict: 'holds', verdictText: 'holds', deciding };
  if (d <= CLEAR_GAP) return { claim: 1, statement: STATEMENTS[1], verdict: 'holds at a cost', verdictText: `holds at a cost of ${(100 * d).toFixed(1)} points`, deciding };
  return { claim: 1, statement: STATEMENTS[1], verdict: 'does not hold', verdictText: 'does not hold', deciding };
}

function claim2(results: ResultsFile, load: PerSampleLoader, names: ClaimModels): ClaimAssessment {
  const base = byName(results, names.baseline);
  const opt = byName(results, names.optical);
  if (!base || !opt) return undecidable(2, `no model named '${!base ? names.baseline : names.optical}'`);
  const oracle = oracleModes(results, opt.id);
  const isOracle = isOracleRunOf(results, opt.id);
  const b = worstCaseAtClaimEps(results, load, base.id, isWhiteBoxRun);
  const all = worstCaseAtClaimEps(results, load, opt.id, isWhiteBoxRun);
  const r = worstCaseAtClaimEps(results, load, opt.id, (x) => isWhiteBoxRun(x) && !isOracle(x));
  if (!b || !r || !all) return undecidable(2, `no white-box run at 8/255 on ${!b ? names.baseline : names.optical}${r || !all ? '' : ' outside the oracle modes'}`);
  const modes = [...new Set(results.runs.filter((x) => x.model === opt.id && isWhiteBoxRun(x) && !isOracle(x)).map(gradientOf))].sort();
  const deciding =
    `white-box worst case at 8/255: optical ${pct(r.accuracy)} over every mode but the oracle (${modes.join(', ')}; ${r.n} images), ` +
    `${pct(all.accuracy)} with the oracle (${oracle.join(', ') || 'none declared'}); baseline ${pct(b.accuracy)}; gap ${gap(r.accuracy, b.accuracy)}`;
  const base2 = { claim: 2 as const, statement: STATEMENTS[2], deciding };
  if (r.accuracy - b.accuracy >= CLEAR_GAP) return { ...base2, verdict: 'holds', verdictText: 'holds' };
  // the claim holds against an attacker who lacks one mode when leaving that mode out lifts the worst case clear
  const without = modes
    .map((m) => ({ m, w: worstCaseAtClaimEps(results, load, opt.id, (x) => isWhiteBoxRun(x) && !isOracle(x) && gradientOf(x) !== m) }))
    .filter((x): x is { m: string; w: WorstCase } => x.w !== null && x.w.accuracy - b.accuracy >= CLEAR_GAP);
  if (without.length) {
    const list = without.map((x) => `${x.m} (${pct(x.w.accuracy)} without it)`).join(', ');
    return { ...base2, verdict: 'holds only against', verdictText: `holds only against an attacker without ${list}` };
  }
  return { ...base2, verdict: 'does not hold', verdictText: 'does not hold' };
}

function claim3(results: ResultsFile, load: PerSampleLoader, names: ClaimModels): ClaimAssessment {
  const opt = byName(results, names.optical);
  if (!opt) return undecidable(3, `no model named '${names.optical}'`);
  const natural = worstCaseAtClaimEps(results, load, opt.id, (r) => isWhiteBoxRun(r) && gradientOf(r) === 'natural');
  const oracle = worstCaseAtClaimEps(results, load, opt.id, (r) => isWhiteBoxRun(r) && modeName(r) === 'bpda-true');
  if (!natural || !oracle) return undecidable(3, `no white-box run at 8/255 on ${names.optical} through ${!natural ? 'its natural gradient' : 'bpda-true'}`);
  const d = natural.accuracy - oracle.accuracy;
  const deciding = `optical, white-box worst case at 8/255: through the natural (DFA) gradient ${pct(natural.accuracy)}, through bpda-true ${pct(oracle.accuracy)} (natural ${gap(natural.accuracy, oracle.accuracy)})`;
  const base3 = { claim: 3 as const, statement: STATEMENTS[3], deciding };
  if (d >= CLEAR_GAP) return { ...base3, verdict: 'holds', verdictText: 'holds' };
  if (d >= NO_DIFFERENCE) return { ...base3, verdict: 'holds weakly', verdictText: `holds weakly (${(100 * d).toFixed(1)} points)` };
  return { ...base3, verdict: 'does not hold', verdictText: 'does not hold' };
}

function claim4(results: ResultsFile, load: PerSampleLoader, names: ClaimModels): ClaimAssessment {
  const opt = byName(results, names.optical);
  const dfa = byName(results, names.dfaOnly);
  if (!opt || !dfa) return undecidable(4, `no model named '${!opt ? names.optical : names.dfaOnly}'`);
  const o = worstCaseAtClaimEps(results, load, opt.id, isBlackBoxRun);
  const d = worstCaseAtClaimEps(results, load, dfa.id, isBlackBoxRun);
  if (!o || !d) return undecidable(4, `no black-box run at 8/255 or below on ${!o ? names.optical : names.dfaOnly}`);
  const deciding = `black-box worst case at 8/256 (HopSkipJump at 8/255): optical ${pct(o.accuracy)} (${o.n} images), dfa-only ${pct(d.accuracy)} (${d.n} images); gap ${gap(o.accuracy, d.accuracy)}`;
  const base4 = { claim: 4 as const, statement: STATEMENTS[4], deciding };
  if (o.accuracy - d.accuracy >= CLEAR_GAP) return { ...base4, verdict: 'holds', verdictText: 'holds' };
  // per attack: the same attack, parameters and eps on both models
  const key = (r: RunRecord): string => `${r.attack}|${JSON.stringify(Object.entries(r.params).sort(([a], [b]) => a.localeCompare(b)))}|${epsKey(r.eps)}`;
  const dfaRuns = new Map(results.runs.filter((r) => r.model === dfa.id && isBlackBoxRun(r)).map((r) => [key(r), r] as const));
  const optRuns = results.runs.filter((r) => r.model === opt.id && isBlackBoxRun(r) && r.eps <= CLAIM_EPS * (1 + 1e-9));
  // an attack's variants (Bandits at three fd_eta) are told apart by the parameters that differ between them
  const name = (r: RunRecord): string => [attackLabel(r.attack), variantLabel(r, varyingParams(optRuns.filter((x) => x.attack === r.attack)))].filter(Boolean).join(' ');
  const clear = optRuns
    .map((r) => ({ r, other: dfaRuns.get(key(r)) }))
    .filter((x): x is { r: RunRecord; other: RunRecord } => x.other !== undefined && x.r.robustAccuracy - x.other.robustAccuracy >= CLEAR_GAP);
  if (clear.length) {
    const list = clear.map((x) => `${name(x.r)} (${pct(x.r.robustAccuracy)} against ${pct(x.other.robustAccuracy)})`).join(', ');
    return { ...base4, verdict: 'holds only against', verdictText: `holds only against ${list}` };
  }
  return { ...base4, verdict: 'does not hold', verdictText: 'does not hold' };
}

function claim5(results: ResultsFile, names: ClaimModels): ClaimAssessment {
  const models = [names.baseline, names.optical, names.dfaOnly].map((n) => byName(results, n));
  const missing = [names.baseline, names.optical, names.dfaOnly].find((_, i) => !models[i]);
  if (missing) return undecidable(5, `no model named '${missing}'`);
  const [base, opt, dfa] = models as ModelRecord[];
  const at = (m: ModelRecord): number | undefined => transferPgdAccuracy(results, m.id);
  const [b, o, d] = [at(base), at(opt), at(dfa)];
  if (b === undefined || o === undefined || d === undefined) return undecidable(5, `no transfer PGD run at normalized eps ${TRANSFER_EPS_NORMALIZED} scored on common-correct images for every one of ${names.baseline}, ${names.optical}, ${names.dfaOnly}`);
  const deciding = `transfer PGD from the surrogate at normalized eps ${TRANSFER_EPS_NORMALIZED}, common-correct images: baseline ${pct(b)}, optical ${pct(o)} (${gap(o, b)}), dfa-only ${pct(d)} (${gap(d, b)})`;
  const base5 = { claim: 5 as const, statement: STATEMENTS[5], deciding };
  const oClear = o - b >= CLEAR_GAP;
  const dClear = d - b >= CLEAR_GAP;
  if (oClear && dClear) return { ...base5, verdict: 'holds', verdictText: 'holds' };
  if (oClear) return { ...base5, verdict: 'holds only for the optical model', verdictText: 'holds only for the optical model: the OPU, not the training, resists transfer' };
  return { ...base5, verdict: 'does not hold', verdictText: 'does not hold' };
}

/** The statement under which the verdicts are shown (report and Markdown). */
export const CLAIMS_RULE = `Verdicts by fixed decision rules (reports/claims.ts): a gap of ${100 * CLEAR_GAP} points or more is clear, one under ${100 * NO_DIFFERENCE} points is no difference. Robust accuracies are per-example worst cases over the attacks named.`;

/** The five verdicts, in the paper's order. */
export function assessClaims(results: ResultsFile, load: PerSampleLoader, names: ClaimModels = REPRODUCTION_MODELS): ClaimAssessment[] {
  return [claim1(results, names), claim2(results, load, names), claim3(results, load, names), claim4(results, load, names), claim5(results, names)];
}
