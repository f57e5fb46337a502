/**
 * The answer first: per defended model, clean accuracy and the per-example worst-case robust accuracy at
 * each eps next to the undefended baseline's, the attack and gradient mode that came closest to the worst
 * case, the checks that fail or warn, and one sentence generated from those numbers (never hand-written).
 */
import type { CheckRecord, ModelRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { isUnboundedEps, worstCaseAccuracy, type PerSampleLoader, type WorstCase } from './checks';
import { attackLabel, escapeHtml as h, formatEps, pct, points } from './format';
import { deltaHtml, epsHtml, heat, MUTED_DASH, section, table, type Cell } from './markup';
import { epsKey, gradientOf, isUndefendedModel, modelById, modelIds, numParam, sameEps } from './runs';

/**
 * The headline's worst case at an eps also counts the attacks run at smaller eps of the same norm (a success
 * inside the smaller ball is one inside this ball), e.g. the black-box suite at 8/256 under 8/255.
 */
export const WITHIN_EPS = { withinEps: true } as const;

/** The worst case counts as "natural-gradient masking" worth a sentence when the gap is at least this. */
export const MASKING_NOTE_GAP = 0.05;

export interface HeadlineRow {
  /** Pixel units. */
  eps: number;
  norm: 'linf' | 'l2';
  /** Per-example worst case over every attack on the model at this eps or a smaller one of the same norm. */
  defended: WorstCase;
  /** The strongest single attack (noise excluded) at this eps. */
  strongest: RunRecord;
  /** The baseline's worst case at the same eps and norm, when it was attacked there. */
  baseline: WorstCase | null;
  /** The strongest white-box run through the model's natural gradient, when one ran. */
  natural: RunRecord | null;
  /** Whether any white-box attack ran at this eps (otherwise the worst case is not a white-box worst case). */
  whiteBox: boolean;
}

export interface HeadlineModel {
  id: string;
  name?: string;
  defense?: string;
  defended: boolean;
  clean: number | undefined;
  n: number | undefined;
  baseline: { id: string; name?: string; clean: number | undefined } | null;
  rows: HeadlineRow[];
  /** Checks that fail or warn and name this model, or name no model at all. */
  checks: CheckRecord[];
  sentence: string;
}

export interface Headline {
  models: HeadlineModel[];
  /** Failing or warning checks that name only models without a card (the baselines). */
  otherChecks: CheckRecord[];
}

function strongest(runs: RunRecord[]): RunRecord | null {
  return runs.length ? runs.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a)) : null;
}

/** Whether a check's sentence names this model id (not merely a longer id that starts with it). */
export function mentionsModel(detail: string, id: string): boolean {
  let at = detail.indexOf(id);
  while (at >= 0) {
    const next = detail.charAt(at + id.length);
    if (!/[A-Za-z0-9_-]/.test(next) && !(next === '.' && /[0-9A-Za-z]/.test(detail.charAt(at + id.length + 1)))) return true;
    at = detail.indexOf(id, at + 1);
  }
  return false;
}

/**
 * The undefended model a defended one is compared with. Among the undefended models, those attacked directly
 * (white-box, score- or decision-based runs of their own) come first: a model that only served as a transfer
 * source (a separately trained surrogate) has no robust accuracy to compare with. Within that order: the
 * undefended source of the model's transfer attacks, else one with the same architecture and width, else the first.
 */
export function baselineFor(results: ResultsFile, id: string): string | null {
  const undefended = modelIds(results).filter((m) => isUndefendedModel(modelById(results, m), m));
  if (!undefended.length) return null;
  const attacked = new Set(results.runs.filter((r) => r.threat !== 'transfer' && r.threat !== 'noise').map((r) => r.model));
  const me = modelById(results, id);
  const sameShape = (u: string): boolean => {
    const m = modelById(results, u);
    return !!m && !!me && m.architecture === me.architecture && m.width === me.width;
  };
  const source = results.runs.find((r) => r.model === id && r.threat === 'transfer' && r.source && undefended.includes(r.source))?.source;
  for (const pool of [undefended.filter((u) => attacked.has(u)), undefended]) {
    if (!pool.length) continue;
    return source && pool.includes(source) ? source : (pool.find(sameShape) ?? pool[0]);
  }
  return null;
}

function cleanOf(results: ResultsFile, id: string): { clean: number | undefined; n: number | undefined } {
  const m = modelById(results, id);
  if (m && typeof m.cleanAccuracy === 'number') return { clean: m.cleanAccuracy, n: m.n };
  const r = results.runs.find((x) => x.model === id && typeof x.cleanAccuracy === 'number');
  return { clean: r?.cleanAccuracy, n: r?.n };
}

function rowsFor(results: ResultsFile, load: PerSampleLoader, id: string, baseline: string | null): HeadlineRow[] {
  // Eps at which the model met a direct attack (white-box, score- or decision-based); transfer-only and
  // noise-only eps are not a worst case, and unbounded eps are a sanity check (C4), not a result.
  const direct = results.runs.filter((r) => r.model === id && r.threat !== 'transfer' && r.threat !== 'noise' && !isUnboundedEps(r));
  const keys = new Map<string, RunRecord>();
  for (const r of direct) keys.set(`${r.norm}|${epsKey(r.eps)}`, r);
  const rows: HeadlineRow[] = [];
  for (const r of [...keys.values()].sort((a, b) => (a.norm === b.norm ? a.eps - b.eps : a.norm < b.norm ? -1 : 1))) {
    const defended = worstCaseAccuracy(results, load, id, r.eps, r.norm, WITHIN_EPS);
    if (!defended) continue;
    const attacks = defended.runs.filter((x) => x.threat !== 'noise');
    const best = strongest(attacks);
    if (!best) continue;
    const natural = strongest(attacks.filter((x) => x.threat === 'white-box' && gradientOf(x) === 'natural'));
    rows.push({
      eps: r.eps,
      norm: r.norm,
      defended,
      strongest: best,
      baseline: baseline ? worstCaseAccuracy(results, load, baseline, r.eps, r.norm, WITHIN_EPS) : null,
      natural,
      whiteBox: attacks.some((x) => x.threat === 'white-box'),
    });
  }
  return rows;
}

/** " at eps 8/256" when a run combined into a row's worst case ran at a smaller eps than the row's, else "". */
export function atEps(run: RunRecord, rowEps: number): string {
  return sameEps(run.eps, rowEps) ? '' : ` at eps ${formatEps(run.eps)}`;
}

/** "PGD (bpda-true gradient, 50 steps)", "Square (5000 queries)". */
export function attackDescription(run: RunRecord): string {
  const parts: string[] = [];
  if (run.threat === 'white-box') parts.push(`${gradientOf(run)} gradient`);
  const steps = numParam(run, 'steps', 'iterations');
  if (run.threat === 'white-box' && steps !== undefined) parts.push(`${steps} step${steps === 1 ? '' : 's'}`);
  const restarts = numParam(run, 'restarts');
  if (restarts !== undefined && restarts > 1) parts.push(`${restarts} restarts`);
  const q = numParam(run, 'maxQueries', 'queries');
  if ((run.threat === 'black-box-score' || run.threat === 'decision') && q !== undefined) parts.push(`${q} queries`);
  if (run.threat === 'transfer' && run.source) parts.push(`transfer from ${run.source}`);
  if (run.eot && run.eot.samples > 1) parts.push(`EOT ${run.eot.samples}`);
  return `${attackLabel(run.attack)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** The eps a sentence speaks of: 8/255 L-inf when it ran, else the largest bounded eps with a white-box attack. */
function focusRow(rows: HeadlineRow[]): HeadlineRow | undefined {
  return (
    rows.find((r) => r.norm === 'linf' && Math.abs(r.eps * 255 - 8) < 0.02 && r.whiteBox) ??
    [...rows].reverse().find((r) => r.whiteBox) ??
    rows[rows.length - 1]
  );
}

function checkList(ids: CheckRecord[]): string {
  return ids.map((c) => c.id).join(', ');
}

/** One sentence (a few clauses) per model, built only from the numbers in `m`. */
export function headlineSentence(m: Omit<HeadlineModel, 'sentence'>): string {
  const who = m.name && m.name !== m.id ? `${m.name} (${m.id})` : m.id;
  const out: string[] = [];
  const base = m.baseline;
  out.push(
    `${who}: clean accuracy ${pct(m.clean)}` +
      (base ? ` against ${pct(base.clean)} for the undefended ${base.name ?? base.id}${typeof m.clean === 'number' && typeof base.clean === 'number' ? ` (${points(m.clean - base.clean)} points)` : ''}` : '') +
      '.',
  );
  const f = focusRow(m.rows);
  if (!f) {
    out.push('No bounded attack ran on it, so its robustness is unmeasured: run white-box attacks (PGD, APGD) through every gradient mode it offers.');
  } else {
    const k = f.defended.runs.length;
    let s = `At eps ${formatEps(f.eps)}${f.norm === 'l2' ? ' (L2)' : ''}, the per-example worst case over ${k} attack${k === 1 ? '' : 's'} leaves ${pct(f.defended.accuracy)} robust accuracy`;
    if (!f.defended.perExample) s += ' (an upper bound: some runs lack per-sample records)';
    if (f.baseline) s += `, against ${pct(f.baseline.accuracy)} for the baseline (${points(f.defended.accuracy - f.baseline.accuracy)} points)`;
    else if (base) s += '; the baseline was not attacked at this eps';
    s += `; the strongest single attack was ${attackDescription(f.strongest)}${atEps(f.strongest, f.eps)} at ${pct(f.strongest.robustAccuracy)}.`;
    if (!f.whiteBox) s += ' No white-box attack ran at this eps, so this is not a white-box worst case.';
    out.push(s);
    if (m.defended && f.natural && f.natural.robustAccuracy - f.defended.accuracy >= MASKING_NOTE_GAP) {
      out.push(
        `Attacked only through its natural gradient it keeps ${pct(f.natural.robustAccuracy)}, so an evaluation with that gradient alone would overstate its robustness by ${points(f.natural.robustAccuracy - f.defended.accuracy).replace(/^\+/, '')} points.`,
      );
    }
  }
  const fails = m.checks.filter((c) => c.status === 'fail');
  const warns = m.checks.filter((c) => c.status === 'warn');
  if (fails.length || warns.length) {
    const parts = [fails.length ? `${fails.length} check${fails.length === 1 ? '' : 's'} fail (${checkList(fails)})` : '', warns.length ? `${warns.length} warn (${checkList(warns)})` : '']
      .filter(Boolean)
      .join(' and ');
    out.push(`${parts.charAt(0).toUpperCase()}${parts.slice(1)}${fails.length ? ': address them before quoting these numbers' : ''}.`);
  } else out.push('No check that applies to it fails or warns.');
  return out.join(' ');
}

/** Cards for the defended models, or for every model when none is defended. */
export function computeHeadline(results: ResultsFile, load: PerSampleLoader, checks: CheckRecord[]): Headline {
  const ids = modelIds(results);
  const defended = ids.filter((id) => !isUndefendedModel(modelById(results, id), id));
  const cardIds = defended.length ? defended : ids;
  const problems = checks.filter((c) => c.status === 'fail' || c.status === 'warn');
  const namesAny = (c: CheckRecord): boolean => ids.some((id) => mentionsModel(c.detail, id));
  const models = cardIds.map((id): HeadlineModel => {
    const rec: ModelRecord | undefined = modelById(results, id);
    const isDefended = defended.includes(id);
    const baseId = isDefended ? baselineFor(results, id) : null;
    const baseRec = baseId ? modelById(results, baseId) : undefined;
    const partial: Omit<HeadlineModel, 'sentence'> = {
      id,
      ...(typeof rec?.name === 'string' ? { name: rec.name } : {}),
      ...(typeof rec?.defense === 'string' ? { defense: rec.defense } : {}),
      defended: isDefended,
      ...cleanOf(results, id),
      baseline: baseId ? { id: baseId, ...(typeof baseRec?.name === 'string' ? { name: baseRec.name } : {}), clean: cleanOf(results, baseId).clean } : null,
      rows: rowsFor(results, load, id, baseId),
      checks: problems.filter((c) => mentionsModel(c.detail, id) || !namesAny(c)),
    };
    return { ...partial, sentence: headlineSentence(partial) };
  });
  const otherChecks = problems.filter((c) => !models.some((m) => m.checks.includes(c)));
  return { models, otherChecks };
}

/** Extra string fields a check record may carry (e.g. why it cannot pass at this scale), shown after the detail. */
export function checkExtrasHtml(c: CheckRecord): string {
  return Object.entries(c as unknown as Record<string, unknown>)
    .filter(([k, v]) => !['id', 'status', 'detail'].includes(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))
    .map(([k, v]) => ` <span class="check-note"><em>${h(k.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase())}:</em> ${h(String(v))}</span>`)
    .join('');
}

export function checkItemHtml(c: CheckRecord): string {
  const s = ['pass', 'warn', 'fail', 'skipped'].includes(c.status) ? c.status : 'skipped';
  return `<li class="check ${s}"><span class="badge ${s}">${h(c.status)}</span> <strong>${h(c.id)}</strong> ${h(c.detail)}${checkExtrasHtml(c)}</li>`;
}

function card(m: HeadlineModel): string {
  const baseHead = m.baseline ? `baseline<br><span class="muted small">${h(m.baseline.name ?? m.baseline.id)}</span>` : 'baseline';
  const rows: Cell[][] = [
    [
      '<strong>clean</strong>',
      { html: pct(m.clean), style: typeof m.clean === 'number' ? heat(m.clean) : '', cls: 'num' },
      m.baseline && typeof m.baseline.clean === 'number' ? { html: pct(m.baseline.clean), style: heat(m.baseline.clean), cls: 'num' } : { html: MUTED_DASH, cls: 'num' },
      deltaHtml(typeof m.clean === 'number' && typeof m.baseline?.clean === 'number' ? m.clean - m.baseline.clean : null),
      `<span class="muted">${h(typeof m.n === 'number' ? `${m.n} test images` : '')}</span>`,
    ],
    ...m.rows.map((r): Cell[] => [
      `${epsHtml(r.eps)}${r.norm === 'l2' ? ' <span class="muted">L2</span>' : ''}`,
      {
        html: `${pct(r.defended.accuracy)}${r.defended.perExample ? '' : '<sup>†</sup>'}${r.whiteBox ? '' : '<sup>‡</sup>'}`,
        style: heat(r.defended.accuracy),
        cls: 'num',
        title: `${r.defended.runs.length} attacks combined per example on ${r.defended.n} images`,
      },
      r.baseline ? { html: pct(r.baseline.accuracy), style: heat(r.baseline.accuracy), cls: 'num' } : { html: MUTED_DASH, cls: 'num' },
      deltaHtml(r.baseline ? r.defended.accuracy - r.baseline.accuracy : null),
      `${h(attackDescription(r.strongest) + atEps(r.strongest, r.eps))} <span class="muted">${pct(r.strongest.robustAccuracy)} alone; ${r.defended.runs.length} attacks combined</span>`,
    ]),
  ];
  const head = m.defended ? 'robust accuracy<br><span class="muted small">worst case per example</span>' : 'robust accuracy';
  const checks = m.checks.length ? `<ul class="checks compact">${m.checks.map(checkItemHtml).join('')}</ul>` : '';
  const title = `${h(m.name ?? m.id)}${m.name && m.name !== m.id ? ` <span class="muted small">${h(m.id)}</span>` : ''}${m.defense ? ` <span class="tag">defense: ${h(m.defense)}</span>` : ''}`;
  return `<div class="headline-card" data-model="${h(m.id)}"><h3>${title}</h3><p class="lead">${h(m.sentence)}</p>${table(['eps', head, baseHead, 'change<br><span class="muted small">points</span>', 'strongest single attack'], rows, 'headline')}${checks}</div>`;
}

export function headlineSection(hl: Headline): string {
  if (!hl.models.length) return section('headline', 'Headline', '<p class="muted">No models in these results.</p>');
  const upper = hl.models.some((m) => m.rows.some((r) => !r.defended.perExample));
  const noWhite = hl.models.some((m) => m.rows.some((r) => !r.whiteBox));
  const anyDefended = hl.models.some((m) => m.defended);
  const intro =
    (anyDefended
      ? 'Per defended model: clean accuracy and the per-example worst case over every attack at each eps or a smaller one of the same norm (an image counts as robust only if every attack left it correct; a success inside a smaller ball is inside this one too), next to the undefended baseline. Every sentence is generated from these numbers.'
      : 'No defended model in these results: per model, clean accuracy and the per-example worst case over every attack at each eps or a smaller one of the same norm.') +
    (upper ? ' <sup>†</sup> upper bound (runs without per-sample records).' : '') +
    (noWhite ? ' <sup>‡</sup> no white-box attack at this eps.' : '');
  const other = hl.otherChecks.length ? `<h3>Other checks that fail or warn</h3><ul class="checks compact">${hl.otherChecks.map(checkItemHtml).join('')}</ul>` : '';
  return section('headline', 'Headline', `<div class="headline-grid">${hl.models.map(card).join('\n')}</div>${other}`, intro);
}
