/**
 * Two results files side by side (`opulab report a/results.json b/results.json`): the same models, matched
 * by id or by spec name, with the change from A to B in clean accuracy, in the per-example worst case per
 * eps and in robust accuracy per attack and eps, and the checks of both. One self-contained HTML file with
 * no scripts (tables only), so it opens offline and prints as it shows.
 */
import type { CheckRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { UserError } from '../src/util/errors';
import { isUnboundedEps, worstCaseAccuracy, type PerSampleLoader } from './checks';
import { escapeHtml as h, formatEps, formatInt, pct, points } from './format';
import { attackDescription, checkExtrasHtml } from './headline';
import { deltaHtml, epsHtml, headers, heat, MUTED_DASH, pageStart, section, table, type Cell } from './markup';
import { epsKey, gradientOf, groupBy, modelById, modelIds, numParam } from './runs';
import { REPORT_CSS } from './style';

export type MatchBy = 'id' | 'name';

export interface CompareSide {
  /** How the page names this side: "A" or "B". */
  tag: string;
  /** The results file path as the user gave it. */
  file: string;
  results: ResultsFile;
  load: PerSampleLoader;
  checks: CheckRecord[];
}

export interface ModelPair {
  /** The shared id or name. */
  key: string;
  a: string;
  b: string;
}

export interface ModelMatch {
  pairs: ModelPair[];
  onlyA: string[];
  onlyB: string[];
}

/** The key a model is matched by: its id, or its spec name (models without a recorded name use their id). */
export function matchKey(results: ResultsFile, id: string, by: MatchBy): string {
  if (by === 'id') return id;
  const name = modelById(results, id)?.name;
  return typeof name === 'string' && name ? name : id;
}

function keyMap(results: ResultsFile, by: MatchBy, file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const id of modelIds(results)) {
    const k = matchKey(results, id, by);
    const prev = m.get(k);
    if (prev !== undefined) {
      throw new UserError(`${file}: models ${prev} and ${id} are both named "${k}"; expected unique names for --match name (or use --match id)`);
    }
    m.set(k, id);
  }
  return m;
}

/** Pair the models of A and B that share an id (or a name); the rest are listed as unmatched. */
export function matchModels(a: CompareSide, b: CompareSide, by: MatchBy): ModelMatch {
  const ka = keyMap(a.results, by, a.file);
  const kb = keyMap(b.results, by, b.file);
  const pairs: ModelPair[] = [];
  for (const [k, ida] of ka) {
    const idb = kb.get(k);
    if (idb !== undefined) pairs.push({ key: k, a: ida, b: idb });
  }
  return {
    pairs,
    onlyA: [...ka].filter(([k]) => !kb.has(k)).map(([, id]) => id),
    onlyB: [...kb].filter(([k]) => !ka.has(k)).map(([, id]) => id),
  };
}

export interface AttackRow {
  /** Attack, threat, gradient and source: what is held fixed across A and B. */
  label: string;
  /** Pixel units. */
  eps: number;
  norm: 'linf' | 'l2';
  /** The strongest run of this kind at this eps on each side (null when that side did not run it). */
  a: RunRecord | null;
  b: RunRecord | null;
}

function strongest(runs: RunRecord[] | undefined): RunRecord | null {
  return runs && runs.length ? runs.reduce((x, y) => (y.robustAccuracy < x.robustAccuracy ? y : x)) : null;
}

/** A run's identity across the two files: the model is the pair's, a transfer source is named by its match key. */
function attackKey(side: CompareSide, run: RunRecord, by: MatchBy): string {
  const source = run.source ? matchKey(side.results, run.source, by) : '';
  return JSON.stringify([run.attack, run.threat, run.norm, gradientOf(run), source, epsKey(run.eps)]);
}

function attackLabelFor(side: CompareSide, run: RunRecord, by: MatchBy): string {
  const generic: RunRecord = { ...run, params: { ...run.params } };
  // Steps and budgets may differ between A and B; the row label keeps only what both share.
  delete generic.params.steps;
  delete generic.params.iterations;
  delete generic.params.restarts;
  delete generic.params.maxQueries;
  delete generic.params.queries;
  if (run.source) generic.source = matchKey(side.results, run.source, by);
  delete generic.eot;
  return attackDescription(generic);
}

/** Per attack kind and eps, the strongest run on each side of a model pair. */
export function compareAttacks(a: CompareSide, b: CompareSide, pair: ModelPair, by: MatchBy): AttackRow[] {
  const ra = groupBy(a.results.runs.filter((r) => r.model === pair.a), (r) => attackKey(a, r, by));
  const rb = groupBy(b.results.runs.filter((r) => r.model === pair.b), (r) => attackKey(b, r, by));
  const keys = [...new Set([...ra.keys(), ...rb.keys()])];
  const rows = keys.map((k): AttackRow => {
    const x = strongest(ra.get(k));
    const y = strongest(rb.get(k));
    const any = (x ?? y) as RunRecord;
    return { label: attackLabelFor(x ? a : b, any, by), eps: any.eps, norm: any.norm, a: x, b: y };
  });
  const threatOrder = ['white-box', 'black-box-score', 'decision', 'transfer', 'noise'];
  return rows.sort((p, q) => {
    const tp = threatOrder.indexOf(((p.a ?? p.b) as RunRecord).threat);
    const tq = threatOrder.indexOf(((q.a ?? q.b) as RunRecord).threat);
    return tp - tq || p.label.localeCompare(q.label) || p.eps - q.eps;
  });
}

function accCell(x: number | null | undefined, title = ''): Exclude<Cell, string> {
  return typeof x === 'number' ? { html: pct(x), style: heat(x), cls: 'num', ...(title ? { title } : {}) } : { html: MUTED_DASH, cls: 'num' };
}

function budget(run: RunRecord | null): string {
  if (!run) return '';
  const steps = numParam(run, 'steps', 'iterations');
  const q = numParam(run, 'maxQueries', 'queries');
  const parts: string[] = [];
  if (steps !== undefined && run.threat === 'white-box') parts.push(`${formatInt(steps)} step${steps === 1 ? '' : 's'}`);
  const restarts = numParam(run, 'restarts');
  if (restarts !== undefined && restarts > 1) parts.push(`${restarts} restarts`);
  if (q !== undefined) parts.push(`${formatInt(q)} queries`);
  if (run.eot && run.eot.samples > 1) parts.push(`EOT ${run.eot.samples}`);
  return parts.join(', ');
}

function budgetCell(row: AttackRow): string {
  const ba = budget(row.a);
  const bb = budget(row.b);
  if (ba === bb) return `<span class="muted">${h(ba)}</span>`;
  return `<span class="changed">A ${h(ba || '—')}<br>B ${h(bb || '—')}</span>`;
}

function cleanOf(results: ResultsFile, id: string): { clean: number | undefined; n: number | undefined } {
  const m = modelById(results, id);
  if (m && typeof m.cleanAccuracy === 'number') return { clean: m.cleanAccuracy, n: m.n };
  const r = results.runs.find((x) => x.model === id);
  return { clean: r?.cleanAccuracy, n: r?.n };
}

function modelsSection(a: CompareSide, b: CompareSide, match: ModelMatch, by: MatchBy): string {
  const rows: Cell[][] = match.pairs.map((p) => {
    const ca = cleanOf(a.results, p.a);
    const cb = cleanOf(b.results, p.b);
    return [
      `<a href="#pair-${encodeURIComponent(p.key)}"><strong>${h(p.key)}</strong></a>` + (by === 'name' ? `<br><span class="muted small">A ${h(p.a)}${p.a === p.b ? '' : `<br>B ${h(p.b)}`}</span>` : ''),
      accCell(ca.clean, `n = ${ca.n ?? '?'}`),
      accCell(cb.clean, `n = ${cb.n ?? '?'}`),
      deltaHtml(typeof ca.clean === 'number' && typeof cb.clean === 'number' ? cb.clean - ca.clean : null),
      { html: h(String(a.results.runs.filter((r) => r.model === p.a).length)), cls: 'num' },
      { html: h(String(b.results.runs.filter((r) => r.model === p.b).length)), cls: 'num' },
    ];
  });
  const unmatched = [
    match.onlyA.length ? `<p><strong>Only in A:</strong> ${match.onlyA.map((x) => h(x)).join(', ')}</p>` : '',
    match.onlyB.length ? `<p><strong>Only in B:</strong> ${match.onlyB.map((x) => h(x)).join(', ')}</p>` : '',
  ].join('');
  return section(
    'models',
    'Models',
    table([by === 'name' ? 'model (name)' : 'model (id)', 'clean A', 'clean B', 'change<br><span class="muted small">B − A, points</span>', 'runs A', 'runs B'], rows) + unmatched,
    `Models matched by ${by === 'name' ? 'spec name' : 'id'}. Change is B minus A in percentage points: green when B is more accurate.`,
  );
}

function worstCaseTable(a: CompareSide, b: CompareSide, p: ModelPair): string {
  const epsOf = (s: CompareSide, id: string): [string, RunRecord][] => s.results.runs.filter((r) => r.model === id).map((r) => [`${r.norm}|${epsKey(r.eps)}`, r]);
  const all = new Map<string, RunRecord>([...epsOf(a, p.a), ...epsOf(b, p.b)]);
  const rows: Cell[][] = [...all.values()]
    .sort((x, y) => (x.norm === y.norm ? x.eps - y.eps : x.norm < y.norm ? -1 : 1))
    .map((r) => {
      const wa = worstCaseAccuracy(a.results, a.load, p.a, r.eps, r.norm);
      const wb = worstCaseAccuracy(b.results, b.load, p.b, r.eps, r.norm);
      const mark = (w: typeof wa): string => (w && !w.perExample ? '<sup>†</sup>' : '');
      return [
        epsHtml(r.eps) + (r.norm === 'l2' ? ' <span class="muted">L2</span>' : ''),
        wa ? { ...accCell(wa.accuracy, `${wa.runs.length} attacks on ${wa.n} images`), html: pct(wa.accuracy) + mark(wa) } : accCell(null),
        wb ? { ...accCell(wb.accuracy, `${wb.runs.length} attacks on ${wb.n} images`), html: pct(wb.accuracy) + mark(wb) } : accCell(null),
        deltaHtml(wa && wb ? wb.accuracy - wa.accuracy : null),
        `<span class="muted">${h(wa ? String(wa.runs.length) : '—')} / ${h(wb ? String(wb.runs.length) : '—')}</span>`,
      ];
    });
  return table(['eps', 'worst case A', 'worst case B', 'change<br><span class="muted small">points</span>', 'attacks<br><span class="muted small">A / B</span>'], rows, 'compare');
}

function attacksTable(a: CompareSide, b: CompareSide, p: ModelPair, by: MatchBy): string {
  const rows: Cell[][] = compareAttacks(a, b, p, by).map((r) => [
    h(r.label),
    epsHtml(r.eps) + (r.norm === 'l2' ? ' <span class="muted">L2</span>' : ''),
    accCell(r.a?.robustAccuracy),
    accCell(r.b?.robustAccuracy),
    deltaHtml(r.a && r.b ? r.b.robustAccuracy - r.a.robustAccuracy : null),
    budgetCell(r),
  ]);
  return table(headers('attack', 'eps', 'robust A', 'robust B').concat(['change<br><span class="muted small">points</span>', 'budget']), rows, 'compare');
}

/** The eps the pair's sentence speaks of: 8/255 L-inf when both sides ran it, else the largest bounded eps both ran white-box. */
function focusEps(a: CompareSide, b: CompareSide, p: ModelPair): { eps: number; norm: 'linf' | 'l2' } | null {
  const bounded = (s: CompareSide, id: string): RunRecord[] => s.results.runs.filter((r) => r.model === id && r.threat === 'white-box' && !isUnboundedEps(r));
  const ra = bounded(a, p.a);
  const rb = bounded(b, p.b);
  const both = ra.filter((x) => rb.some((y) => y.norm === x.norm && epsKey(y.eps) === epsKey(x.eps)));
  if (!both.length) return null;
  const eight = both.find((r) => r.norm === 'linf' && Math.abs(r.eps * 255 - 8) < 0.02);
  const pick = eight ?? both.reduce((x, y) => (y.eps > x.eps ? y : x));
  return { eps: pick.eps, norm: pick.norm };
}

function pairSection(a: CompareSide, b: CompareSide, p: ModelPair, by: MatchBy): string {
  const ca = cleanOf(a.results, p.a).clean;
  const cb = cleanOf(b.results, p.b).clean;
  let summary =
    `Clean accuracy ${pct(ca)} in A, ${pct(cb)} in B` + (typeof ca === 'number' && typeof cb === 'number' ? ` (${points(cb - ca)} points).` : '.');
  const focus = focusEps(a, b, p);
  if (focus) {
    const wa = worstCaseAccuracy(a.results, a.load, p.a, focus.eps, focus.norm);
    const wb = worstCaseAccuracy(b.results, b.load, p.b, focus.eps, focus.norm);
    if (wa && wb) {
      summary += ` At eps ${formatEps(focus.eps)} the per-example worst case goes from ${pct(wa.accuracy)} (${wa.runs.length} attacks) to ${pct(wb.accuracy)} (${wb.runs.length} attacks), ${points(wb.accuracy - wa.accuracy)} points.`;
    }
  }
  return `<section id="pair-${h(encodeURIComponent(p.key))}"><h2>${h(p.key)}</h2><p class="lead">${h(summary)}</p>` +
    `<h3>Per-example worst case over all attacks, per eps</h3>${worstCaseTable(a, b, p)}` +
    `<h3>Per attack and eps</h3>${attacksTable(a, b, p, by)}` +
    `<p class="intro">Each row holds the attack, threat model, gradient mode and source fixed; when a side ran it more than once (different steps or budgets), its strongest run is shown and the budget column says what differs.</p></section>`;
}

function statusCell(c: CheckRecord | undefined): string {
  if (!c) return MUTED_DASH;
  const s = ['pass', 'warn', 'fail', 'skipped'].includes(c.status) ? c.status : 'skipped';
  return `<span class="badge ${s}">${h(c.status)}</span> ${h(c.detail)}${checkExtrasHtml(c)}`;
}

function checksSection(a: CompareSide, b: CompareSide): string {
  const ids = [...new Set([...a.checks.map((c) => c.id), ...b.checks.map((c) => c.id)])];
  const rows: Cell[][] = ids.map((id) => {
    const ca = a.checks.find((c) => c.id === id);
    const cb = b.checks.find((c) => c.id === id);
    const changed = ca?.status !== cb?.status;
    return [
      { html: `<strong>${h(id)}</strong>${changed ? '<br><span class="changed small">changed</span>' : ''}`, cls: 'nowrap' },
      { html: statusCell(ca), cls: 'check-text' },
      { html: statusCell(cb), cls: 'check-text' },
    ];
  });
  const count = (s: CompareSide, st: CheckRecord['status']): number => s.checks.filter((c) => c.status === st).length;
  const line = (s: CompareSide): string => `${s.tag}: ${count(s, 'fail')} fail · ${count(s, 'warn')} warn · ${count(s, 'pass')} pass`;
  return section('checks', 'Evaluation checks', table(headers('check', 'A', 'B'), rows, 'checks-compare'), h(`${line(a)}; ${line(b)}. Each detail names what to rerun.`));
}

function sideLine(s: CompareSide): string {
  const env = s.results.environment;
  const bits = [
    `${s.results.models.length} model(s), ${s.results.runs.length} run(s)`,
    env.dataset ? `dataset ${env.dataset}` : '',
    `seed ${env.seed}`,
    env.startedAt ? `started ${env.startedAt}` : '',
  ].filter(Boolean);
  return `<li><strong>${h(s.tag)}</strong> <code>${h(s.file)}</code> <span class="muted">${h(bits.join(' · '))}</span></li>`;
}

export interface CompareOptions {
  matchBy: MatchBy;
  title?: string;
}

/** The compare page. UserError when no model of A matches one of B. */
export function renderCompare(a: CompareSide, b: CompareSide, opts: CompareOptions): string {
  const match = matchModels(a, b, opts.matchBy);
  if (!match.pairs.length) {
    const list = (ids: string[]): string => ids.slice(0, 4).join(', ') + (ids.length > 4 ? ', …' : '');
    throw new UserError(
      `${a.file} and ${b.file} share no model by ${opts.matchBy} (A: ${list(match.onlyA) || 'none'}; B: ${list(match.onlyB) || 'none'}); expected at least one common model${opts.matchBy === 'id' ? ', or --match name' : ''}`,
    );
  }
  const title = opts.title ?? 'opulab comparison';
  const nav = `<nav class="no-print"><a href="#models">Models</a>${match.pairs.map((p) => `<a href="#pair-${h(encodeURIComponent(p.key))}">${h(p.key)}</a>`).join('')}<a href="#checks">Checks</a></nav>`;
  const env = a.results.environment;
  return `${pageStart(title, String(env.opulab), REPORT_CSS)}<header>
<h1>${h(title)}</h1>
<ul class="sides">${sideLine(a)}${sideLine(b)}</ul>
${nav}
</header>
<main>
${modelsSection(a, b, match, opts.matchBy)}
${match.pairs.map((p) => pairSection(a, b, p, opts.matchBy)).join('\n')}
${checksSection(a, b)}
</main>
<footer>Generated by opulab ${h(env.opulab)}. Change = B − A. Full precision is in the two results.json files.</footer>
</body>
</html>
`;
}
