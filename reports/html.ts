/**
 * The self-contained HTML robustness report: one file, Chart.js inlined, data inlined as JSON, opens
 * offline. Tables are rendered here (readable without JavaScript and in print); charts are drawn in the
 * browser from JSON specs (reports/charts.ts). Every user string is HTML-escaped.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CheckRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { buildCharts, type ChartSpec } from './charts';
import { gradientModeTables } from './gradient-modes';
import { computeChecks, worstCaseAccuracy, type PerSampleLoader } from './checks';
import { CLIENT_SCRIPT, ERROR_CAPTURE_SCRIPT } from './client';
import { decodeImage, readExtras, type DecodedImage, type ExampleImage, type ReportExtras } from './extras';
import { attackLabel, escapeHtml as h, formatEps, formatInt, formatSeconds, formatValue, pct, pct3, sig3 } from './format';
import { checkItemHtml, computeHeadline, headlineSection } from './headline';
import { ablationSummary, ABLATION_SUMMARY_HEADERS, ABLATION_SUMMARY_NOTE } from './ablation-summary';
import { assessClaims, CLAIMS_RULE, type ClaimModels } from './claims';
import { epsHeader, epsHtml, headers, heat, MUTED_DASH, pageStart, section, table, type Cell } from './markup';
import { encodePng, pngDataUri, upscaleNearest } from './png';
import { epsKey, gradientOf, groupBy, isSingleStep, modelIds, numParam, sameEps, seriesLabel, variantLabel, varyingParams } from './runs';
import { REPORT_CSS } from './style';
import { defenseCell, DEFENSE_KEYS } from './defense';
import { attackJobs, trainingSeconds } from './compute-time';

export interface RenderOptions {
  perSampleLoader: PerSampleLoader;
  title?: string;
  /** Checks to show; default: results.checks, or computed when that is empty. */
  checks?: CheckRecord[];
  /** Chart.js UMD source; default: read from node_modules at run time. */
  chartJsSource?: string;
  /** Add the verdicts on the paper's five claims (./claims.ts), finding the models by these names. */
  claims?: ClaimModels;
}

/** Chart.js UMD bundle, located through the package's main entry (its exports map hides dist/ paths). */
export function readChartJs(): string {
  const main = require.resolve('chart.js');
  return fs.readFileSync(path.join(path.dirname(main), 'chart.umd.js'), 'utf8');
}

/** Make text safe inside <script>: no "</script", no "<!--" (HTML tokenizer states), for JS and JSON alike. */
export function escapeScriptContent(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON for <script type="application/json">: every "<" escaped, so no tag can close the block. */
export function jsonForScript(data: unknown): string {
  return JSON.stringify(data)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

// ---- small HTML helpers ---------------------------------------------------------------------------------
function canvases(charts: ChartSpec[], sectionId: ChartSpec['section'], wide = false): string {
  const list = charts.filter((c) => c.section === sectionId);
  return `<div class="chart-grid${wide ? ' wide' : ''}">${list
    .map((c) => `<figure class="chart"><div class="chart-box"><canvas id="chart-${h(c.id)}" role="img" aria-label="${h(c.title)}"></canvas></div></figure>`)
    .join('')}</div>`;
}

// ---- sections -----------------------------------------------------------------------------------------
function summarySection(results: ResultsFile, load: PerSampleLoader): string {
  const epsList = [...new Set(results.runs.map((r) => epsKey(r.eps)))].map(Number).sort((a, b) => a - b);
  let upper = false;
  let noWhite = false;
  const rows: Cell[][] = modelIds(results).map((id) => {
    const m = results.models.find((x) => x.id === id);
    const cells: Cell[] = [
      `<strong>${h(id)}</strong>`,
      defenseCell(m),
      h(m?.training ?? '—'),
      { html: pct(m?.cleanAccuracy), style: typeof m?.cleanAccuracy === 'number' ? heat(m.cleanAccuracy) : '' },
      h(typeof m?.n === 'number' ? formatInt(m.n) : '—'),
    ];
    for (const eps of epsList) {
      const norm = results.runs.find((r) => r.model === id && sameEps(r.eps, eps))?.norm ?? 'linf';
      const wc = worstCaseAccuracy(results, load, id, eps, norm);
      if (!wc) {
        cells.push({ html: '<span class="muted">—</span>' });
        continue;
      }
      if (!wc.perExample) upper = true;
      const white = wc.runs.some((r) => r.threat === 'white-box');
      if (!white) noWhite = true;
      cells.push({
        html: `${pct(wc.accuracy)}${wc.perExample ? '' : '<sup>†</sup>'}${white ? '' : '<sup>‡</sup>'}`,
        style: heat(wc.accuracy),
        title: `${wc.runs.length} attack(s) combined on ${wc.n} examples; best single: ${seriesLabel(wc.bestSingle, true)} ${pct(wc.bestSingle.robustAccuracy)}`,
      });
    }
    return cells;
  });
  const head = [...headers('model', 'defense', 'training', 'clean', 'n'), ...epsList.map((e) => epsHeader(e))];
  const note =
    'Robust accuracy per eps is the per-example worst case over every attack run at that eps (an example counts only if all attacks left it correct; check C14).' +
    (upper ? ' <sup>†</sup> some runs lack per-sample records: the value is an upper bound.' : '') +
    (noWhite ? ' <sup>‡</sup> no white-box attack at this eps (transfer or black-box only): not a worst case.' : '');
  return section('summary', 'Summary', table(head, rows, 'summary'), note);
}

const BADGE: Record<CheckRecord['status'], string> = { pass: 'pass', warn: 'warn', fail: 'fail', skipped: 'skipped' };

function checksSection(checks: CheckRecord[]): string {
  const count = (s: CheckRecord['status']): number => checks.filter((c) => c.status === s).length;
  const counts = (['fail', 'warn', 'pass', 'skipped'] as const)
    .map((s) => `<span class="badge ${BADGE[s]}">${count(s)} ${s}</span>`)
    .join(' ');
  const items = checks.map(checkItemHtml).join('\n');
  return section(
    'checks',
    'Evaluation checks',
    `<p class="counts">${counts}</p><ul class="checks">${items}</ul>`,
    'Honest-evaluation checks C1–C17 (Carlini et al. 2019; Athalye et al. 2018). Each names what to rerun.',
  );
}

function accuracySection(charts: ChartSpec[]): string {
  const toggle = `<div class="toggle no-print" role="radiogroup" aria-label="eps axis">eps axis:
    <label><input type="radio" name="eps-axis" value="pixel" checked> pixel [0,1] (with k/255)</label>
    <label><input type="radio" name="eps-axis" value="normalized"> normalized (÷ std of the input normalization)</label></div>`;
  return section(
    'accuracy',
    'Robust accuracy vs eps',
    toggle + canvases(charts, 'accuracy'),
    'Per model: the per-example worst case over all attacks, then one chart per attack with a line per gradient mode, source or step count. Unbounded runs (eps ≥ 0.3) are in the hyperparameter table, not on these axes.',
  );
}

function gradientModesSection(results: ResultsFile, charts: ChartSpec[], load: PerSampleLoader): string {
  const tables = gradientModeTables(results, load);
  if (!tables.length) return section('gradient-modes', 'Gradient modes', '<p class="muted">No model was attacked white-box through more than one gradient path.</p>');
  const body = tables
    .map((t) => {
      const rows: Cell[][] = t.rows.map((row) => [
        row.kind === 'mode' ? `<strong>${h(row.label)}</strong>` : `<em>${h(row.label)}</em>`,
        ...row.cells.map((wc): Cell =>
          wc
            ? {
                html: `${pct(wc.accuracy)}${wc.perExample ? '' : ' †'} <span class="muted">${wc.runs.length}</span>`,
                style: heat(wc.accuracy),
                title: `per-example worst case over ${wc.runs.length} run(s) on ${wc.n} examples; strongest single: ${seriesLabel(wc.bestSingle, true)} ${pct(wc.bestSingle.robustAccuracy)}`,
              }
            : { html: MUTED_DASH },
        ),
      ]);
      return `<h3>${h(t.model)}${t.norm === 'l2' ? ' (L2)' : ''}</h3>` + table(['gradient mode', ...t.eps.map((e) => epsHeader(e))], rows, 'summary');
    })
    .join('\n');
  return section(
    'gradient-modes',
    'Gradient modes (BPDA comparison)',
    canvases(charts, 'gradient-modes', true) + body,
    'Per-example worst case over the white-box attacks through each gradient path (the small number: how many runs), then over every path, and over every path but the oracle (the true transmission matrix, which the defender keeps secret): what an attacker without it achieves. Paths: natural (what the model exposes), BPDA with a random backward matrix, the true matrix (oracle), or one estimated from queries. A large gap between natural and BPDA means the natural gradient is masked. † an upper bound (some runs lack per-sample records). The charts show the strongest single attack per path.',
  );
}

function blackBoxSection(results: ResultsFile, charts: ChartSpec[]): string {
  const runs = results.runs.filter((r) => r.threat === 'black-box-score' || r.threat === 'decision');
  if (!runs.length) return section('black-box', 'Black-box attacks', '<p class="muted">No score- or decision-based runs.</p>');
  // what tells two runs of one attack on one model apart (Bandits at several fd_eta, ...)
  const variants = new Map<RunRecord, string>();
  for (const series of groupBy(runs, (r) => JSON.stringify([r.model, r.attack, r.norm])).values()) {
    const keys = varyingParams(series).filter((k) => k !== 'maxQueries' && k !== 'queries');
    for (const r of series) variants.set(r, variantLabel(r, keys));
  }
  const rows: Cell[][] = runs.map((r) => [
    h(r.model),
    h(attackLabel(r.attack)) + (variants.get(r) ? `<br><span class="muted small">${h(variants.get(r))}</span>` : ''),
    h(r.threat),
    epsHtml(r.eps),
    h(fmtInt(numParam(r, 'maxQueries', 'queries'))),
    pct(r.successRate),
    { html: pct(r.robustAccuracy), style: heat(r.robustAccuracy) },
    h(fmtInt(r.queries?.mean)),
    h(fmtInt(r.queries?.median)),
  ]);
  return section(
    'black-box',
    'Black-box attacks',
    canvases(charts, 'black-box', true) + table(headers('model', 'attack', 'threat', 'eps', 'query budget', 'success rate', 'robust acc.', 'mean queries', 'median queries'), rows),
    'Success rate among correctly classified images as a function of the queries spent.',
  );
}

function transferSection(results: ResultsFile): string {
  const tr = results.runs.filter((r) => r.threat === 'transfer' && r.source);
  if (!tr.length) return section('transfer', 'Transfer attacks', '<p class="muted">No transfer runs.</p>');
  const models = modelIds(results);
  const blocks = [...groupBy(tr, (r) => `${r.attack}|${epsKey(r.eps)}`).values()].map((runs) => {
    const sources = [...new Set(runs.map((r) => r.source as string))];
    const targets = models.filter((m) => runs.some((r) => r.model === m) || sources.includes(m));
    const eps = runs[0].eps;
    const rows: Cell[][] = sources.map((s) => [
      `<strong>${h(s)}</strong>`,
      ...targets.map((t): Cell => {
        const r = runs.find((x) => x.source === s && x.model === t);
        if (r) {
          const acc = r.commonCorrect ? r.commonCorrect.robustAccuracy : r.robustAccuracy;
          const sub = r.commonCorrect ? `n=${r.commonCorrect.n}` : 'all examples';
          return { html: `${pct(acc)}<br><span class="muted small">${h(sub)}</span>`, style: heat(acc), title: seriesLabel(r, true) };
        }
        if (s === t) {
          const wb = results.runs.filter((x) => x.model === t && x.threat === 'white-box' && x.attack === runs[0].attack && sameEps(x.eps, eps));
          if (wb.length) {
            const best = wb.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
            return { html: `${pct(best.robustAccuracy)}<br><span class="muted small">white-box</span>`, style: heat(best.robustAccuracy), title: seriesLabel(best, true) };
          }
        }
        return { html: '<span class="muted">—</span>' };
      }),
    ]);
    const eIn = runs[0].epsSpace === 'normalized' && typeof runs[0].epsInSpace === 'number' ? `, ${sig3(runs[0].epsInSpace)} normalized` : '';
    return `<div class="matrix"><h3>${h(attackLabel(runs[0].attack))} at eps ${h(formatEps(eps))}${h(eIn)}</h3>${table(headers('source \\ target', ...targets), rows, 'matrix')}</div>`;
  });
  return section(
    'transfer',
    'Transfer attacks',
    `<div class="matrix-grid">${blocks.join('\n')}</div>`,
    'Rows craft the adversarial examples, columns classify them. Cells: accuracy on the examples every compared model classifies correctly (common-correct subset, n shown); the diagonal is the white-box attack itself when run.',
  );
}

function isAccuracyColumn(name: string): boolean {
  return /accuracy|rate/i.test(name);
}

function ablationSection(results: ResultsFile, extras: ReportExtras, load: PerSampleLoader): string {
  if (!extras.ablation.length) return '';
  const cellOf = (w: { accuracy: number; n: number } | null): Cell => (w ? { html: `${pct(w.accuracy)} <span class="muted small">n=${w.n}</span>`, style: heat(w.accuracy) } : { html: MUTED_DASH });
  const summary = ablationSummary(results, load).map((r): Cell[] => [
    `<strong>${h(r.name ?? r.model)}</strong>${r.name ? `<br><span class="muted small">${h(r.model)}</span>` : ''}`,
    h(r.defense),
    { html: pct(r.cleanAccuracy), style: heat(r.cleanAccuracy) },
    cellOf(r.whiteBox),
    cellOf(r.whiteBoxNoOracle),
    cellOf(r.blackBox),
    r.transferPgd === null ? { html: MUTED_DASH } : { html: pct(r.transferPgd), style: heat(r.transferPgd) },
  ]);
  const glance = `${table(headers(...ABLATION_SUMMARY_HEADERS), summary)}<p class="muted small">${h(ABLATION_SUMMARY_NOTE.replace(/\*/g, ''))}</p><h3>Per attack and eps (the lowest robust accuracy over its runs)</h3>`;
  const cols = [...new Set(extras.ablation.flatMap((r) => Object.keys(r).filter((k) => k !== 'variant')))];
  const rows: Cell[][] = extras.ablation.map((r) => [
    `<strong>${h(r.variant)}</strong>`,
    ...cols.map((c): Cell => {
      const v = r[c];
      if (typeof v === 'boolean') return { html: v ? '✓' : '<span class="muted">—</span>', cls: 'center' };
      if (typeof v === 'number' && isAccuracyColumn(c)) return { html: pct(v), style: heat(v) };
      return v === undefined || v === null ? { html: MUTED_DASH } : h(formatValue(v));
    }),
  ]);
  return section('ablation', 'Ablation', glance + table(headers('variant', ...cols), rows), 'Which part of the defense buys the robustness (docs/method.md §1: DFA only, + binarization, + fixed random projection, + both).');
}

function imageUri(img: ExampleImage): string | null {
  if ('png' in img) return /^[A-Za-z0-9+/=\s]+$/.test(img.png) ? `data:image/png;base64,${img.png.replace(/\s/g, '')}` : null;
  const d = decodeImage(img);
  return d ? decodedUri(d) : null;
}

function decodedUri(d: DecodedImage): string {
  const factor = Math.max(1, Math.floor(128 / Math.max(d.width, d.height)));
  return pngDataUri(encodePng(d.width * factor, d.height * factor, d.channels, upscaleNearest(d.width, d.height, d.channels, d.pixels, factor)));
}

/** 0.5 + amplification * (adv - clean), amplification by default so the largest change spans the range. */
export function perturbationImage(clean: DecodedImage, adv: DecodedImage, amplification?: number): { image: DecodedImage; amplification: number } | null {
  if (clean.pixels.length !== adv.pixels.length) return null;
  let maxAbs = 0;
  for (let i = 0; i < clean.pixels.length; i++) maxAbs = Math.max(maxAbs, Math.abs(adv.pixels[i] - clean.pixels[i]));
  const amp = amplification ?? (maxAbs > 0 ? 127 / maxAbs : 1);
  const out = new Uint8Array(clean.pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(128 + amp * (adv.pixels[i] - clean.pixels[i]))));
  return { image: { ...clean, pixels: out }, amplification: amp };
}

function examplesSection(extras: ReportExtras): string {
  if (!extras.examples.length) return '';
  const cards = extras.examples.map((e) => {
    const clean = imageUri(e.clean);
    const adv = imageUri(e.adversarial);
    let pert: string | null = e.perturbation ? imageUri(e.perturbation) : null;
    let amp = e.amplification;
    if (!pert) {
      const c = 'png' in e.clean ? null : decodeImage(e.clean);
      const a = 'png' in e.adversarial ? null : decodeImage(e.adversarial);
      const p = c && a ? perturbationImage(c, a, e.amplification) : null;
      if (p) {
        pert = decodedUri(p.image);
        amp = p.amplification;
      }
    }
    const img = (uri: string | null, cap: string): string =>
      `<figure>${uri ? `<img src="${uri}" width="128" height="128" alt="${h(cap)}">` : '<div class="noimg">not decodable</div>'}<figcaption>${h(cap)}</figcaption></figure>`;
    const meta = [e.model, e.attack ? attackLabel(e.attack) : undefined, typeof e.eps === 'number' ? `eps ${formatEps(e.eps)}` : undefined].filter(Boolean).join(' · ');
    const pred = `${e.label ?? '?'} → ${e.adversarialPrediction ?? '?'}`;
    return `<div class="example">${img(clean, `clean (${e.cleanPrediction ?? e.label ?? '?'})`)}${img(adv, `adversarial (${e.adversarialPrediction ?? '?'})`)}${img(pert, `perturbation ×${amp !== undefined ? sig3(amp) : '?'}`)}<p class="muted">${h(meta)}<br>${h(pred)}</p></div>`;
  });
  return section('examples', 'Example images', `<div class="examples">${cards.join('\n')}</div>`, 'Clean input, adversarial input and the perturbation amplified around mid-gray.');
}

function probeSection(extras: ReportExtras, charts: ChartSpec[]): string {
  if (!extras.probe || !extras.probe.curves.length) return '';
  return section(
    'probe',
    'Layer-similarity probe',
    canvases(charts, 'probe'),
    'Feature correlation per layer, low level to high level (after Piriyajitakonkij et al. 2024): how far the attack moves each layer, against the spread of same-class and different-class pairs.',
  );
}

function optimizerSection(extras: ReportExtras, charts: ChartSpec[]): string {
  if (!extras.optimizerSweep.length) return '';
  const rows: Cell[][] = extras.optimizerSweep.map((r) => [
    h(r.backbone),
    h(r.optimizer),
    { html: pct(r.cleanAccuracy), style: heat(r.cleanAccuracy) },
    typeof r.robustAccuracy === 'number' ? { html: pct(r.robustAccuracy), style: heat(r.robustAccuracy) } : { html: '<span class="muted">—</span>' },
    h([r.attack ? attackLabel(r.attack) : '', typeof r.eps === 'number' ? formatEps(r.eps) : ''].filter(Boolean).join(' at ') || '—'),
  ]);
  return section(
    'optimizer-sweep',
    'Optimizer sweep',
    canvases(charts, 'optimizer-sweep', true) + table(headers('backbone', 'optimizer', 'clean', 'robust', 'robust under'), rows),
    'Backbone–optimizer coupling (Li et al. 2024): accuracy and robustness per pair.',
  );
}

/** Parameters the runs table shows in its own columns; the rest go behind the per-row toggle. */
const SHOWN_PARAMS = ['steps', 'iterations', 'stepSize', 'alpha', 'restarts', 'maxQueries', 'queries', 'seed', 'loss'];

function fmtInt(x: number | undefined): string {
  return typeof x === 'number' ? formatInt(x) : '—';
}

/** What the attack was allowed to spend: steps and step size, or a query budget. */
function budgetHtml(r: RunRecord): string {
  const steps = numParam(r, 'steps', 'iterations');
  const step = numParam(r, 'stepSize', 'alpha');
  const restarts = numParam(r, 'restarts');
  const q = numParam(r, 'maxQueries', 'queries');
  const parts: string[] = [];
  if (steps !== undefined) parts.push(`${formatInt(steps)} step${steps === 1 ? '' : 's'}${step !== undefined ? ` × ${sig3(step)}` : ''}`);
  else if (isSingleStep(r)) parts.push(`1 step × ${sig3(step ?? r.eps)}`);
  else if (step !== undefined) parts.push(`step ${sig3(step)}`);
  if (restarts !== undefined && restarts > 1) parts.push(`${restarts} restarts`);
  if (q !== undefined) parts.push(`${formatInt(q)} queries`);
  const used = r.queries ? `<br><span class="muted small">median ${formatInt(r.queries.median)} used</span>` : '';
  return parts.length ? h(parts.join(', ')) + used : MUTED_DASH + used;
}

/** Every field of a run for the per-row toggle: one "name value" line each, numbers for reading. */
function runDetails(r: RunRecord): [string, string][] {
  const seed = numParam(r, 'seed') ?? (typeof r.seed === 'number' ? r.seed : undefined);
  const d: [string, string][] = [
    ['threat', r.threat],
    ['norm', r.norm],
    ['eps', formatEps(r.eps)],
    ['eps as specified', r.epsSpace === 'normalized' && typeof r.epsInSpace === 'number' ? `${sig3(r.epsInSpace)} normalized` : r.epsSpace ?? '—'],
  ];
  if (gradientOf(r)) d.push(['gradient', gradientOf(r)]);
  const steps = numParam(r, 'steps', 'iterations');
  if (steps !== undefined) d.push(['steps', formatInt(steps)]);
  const step = numParam(r, 'stepSize', 'alpha');
  if (step !== undefined) d.push(['step size', sig3(step)]);
  const restarts = numParam(r, 'restarts');
  if (restarts !== undefined) d.push(['restarts', formatInt(restarts)]);
  const q = numParam(r, 'maxQueries', 'queries');
  if (q !== undefined) d.push(['query budget', formatInt(q)]);
  if (r.queries) d.push(['queries used', `mean ${formatInt(r.queries.mean)}, median ${formatInt(r.queries.median)}`]);
  d.push(['seed', seed === undefined ? '—' : String(seed)]);
  if (typeof r.params.loss === 'string') d.push(['loss', r.params.loss]);
  if (r.eot) d.push(['EOT', `${r.eot.samples} samples per step, scored over ${r.eot.evalPasses} passes`]);
  if (r.source) d.push(['source', r.source]);
  if (typeof r.successRate === 'number') d.push(['success rate', pct(r.successRate)]);
  if (r.commonCorrect) d.push(['common-correct', `${pct(r.commonCorrect.robustAccuracy)} on ${formatInt(r.commonCorrect.n)}`]);
  if (r.gradientStats) d.push(['zero / NaN gradient', `${pct3(r.gradientStats.zeroFraction)} / ${pct3(r.gradientStats.nanFraction)}`]);
  if (typeof r.wallTimeSec === 'number') d.push(['wall time', formatSeconds(r.wallTimeSec)]);
  for (const [k, v] of Object.entries(r.params)) if (!SHOWN_PARAMS.includes(k) && !(k === 'norm' && v === r.norm)) d.push([k, formatValue(v)]);
  if (r.perSample) d.push(['per-sample file', r.perSample]);
  return d;
}

function detailsHtml(entries: [string, string][], summary = 'all'): string {
  return `<details class="row-more"><summary>${h(summary)}</summary><dl>${entries.map(([k, v]) => `<dt>${h(k)}</dt><dd>${h(v)}</dd>`).join('')}</dl></details>`;
}

function hyperparametersSection(results: ResultsFile): string {
  const rows: Cell[][] = results.runs.map((r: RunRecord, i) => {
    const sub = [r.threat === 'white-box' ? `${gradientOf(r)} gradient` : r.threat, r.source ? `from ${r.source}` : ''].filter(Boolean).join(' · ');
    return [
      { html: h(i), cls: 'num' },
      h(r.model),
      `${h(attackLabel(r.attack))}<br><span class="muted small">${h(sub)}</span>`,
      epsHtml(r.eps) + (r.norm === 'l2' ? ' <span class="muted">L2</span>' : ''),
      budgetHtml(r),
      { html: h(formatInt(r.n)), cls: 'num' },
      { html: pct(r.cleanAccuracy), cls: 'num' },
      { html: pct(r.robustAccuracy), style: heat(r.robustAccuracy), cls: 'num' },
      { html: detailsHtml(runDetails(r)), cls: 'more' },
    ];
  });
  const toggle = `<p class="no-print table-tools"><button type="button" class="toggle-all" data-target="runs-table">show all parameters</button></p>`;
  return section(
    'hyperparameters',
    'Runs and hyperparameters',
    toggle +
      `<div id="runs-table">` +
      table(headers('#', 'model', 'attack', 'eps', 'budget', 'n', 'clean', 'robust', 'parameters'), rows, 'runs') +
      '</div>',
    'Every run with all its parameters (C15): "all" in the last column opens the rest (norm, eps as specified, seed, loss, EOT, queries used, wall time, every other parameter); printing opens them all. eps is in pixel units of [0,1] images; full precision is in results.json.',
  );
}

function kvTable(entries: [string, unknown][]): string {
  return table(
    ['key', 'value'],
    entries.map(([k, v]) => [`<strong>${h(k)}</strong>`, h(typeof v === 'number' && /Sec$/.test(k) ? formatSeconds(v) : formatValue(v))]),
    'kv',
  );
}

function environmentSection(results: ResultsFile): string {
  const env = results.environment;
  const totalOptical = results.models.reduce((s, m) => s + (typeof m.opticalTimeSec === 'number' ? m.opticalTimeSec : 0), 0);
  const entries: [string, unknown][] = Object.entries(env);
  if (totalOptical > 0) entries.push(['optical time (simulated)', formatSeconds(totalOptical)]);
  // per job, not per run: a job's runs (one per eps) all carry the job's wall time
  const attackWall = attackJobs(results.runs).reduce((s, j) => s + j.seconds, 0);
  if (attackWall > 0) entries.push(['attack wall time (sum over jobs)', formatSeconds(attackWall)]);
  const trainSec = results.models.reduce((s, m) => s + (trainingSeconds(m)?.seconds ?? 0), 0);
  if (trainSec > 0) entries.push(['training time (sum of recorded epoch times)', formatSeconds(trainSec)]);
  const models = table(
    headers('model', 'architecture', 'defense', 'training', 'clean', 'n', 'optical time', 'details'),
    results.models.map((m) => {
      const known = ['id', 'architecture', ...DEFENSE_KEYS, 'training', 'cleanAccuracy', 'n', 'opticalTimeSec'];
      const details: [string, string][] = Object.entries(m)
        .filter(([k]) => !known.includes(k))
        .map(([k, v]) => [k, formatValue(v)]);
      const history = m.train?.history;
      if (Array.isArray(history) && history.every((e) => typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>).testAccuracy === 'number')) {
        details.push(['test accuracy per epoch', history.map((e) => pct((e as Record<string, number>).testAccuracy)).join(', ')]);
      }
      return [
        `<strong>${h(m.id)}</strong>`,
        h(m.architecture ?? '—'),
        defenseCell(m),
        h(m.training ?? '—'),
        pct(m.cleanAccuracy),
        h(typeof m.n === 'number' ? formatInt(m.n) : '—'),
        h(typeof m.opticalTimeSec === 'number' ? formatSeconds(m.opticalTimeSec) : '—'),
        { html: details.length ? detailsHtml(details, `${details.length} fields`) : '—', cls: 'more' },
      ];
    }),
    'models',
  );
  return section('environment', 'Environment and models', kvTable(entries) + '<h3>Models</h3>' + models);
}

const NAV: [string, string][] = [
  ['headline', 'Headline'],
  ['claims', 'Claims'],
  ['summary', 'Summary'],
  ['checks', 'Checks'],
  ['accuracy', 'Accuracy vs eps'],
  ['gradient-modes', 'Gradient modes'],
  ['black-box', 'Black-box'],
  ['transfer', 'Transfer'],
  ['ablation', 'Ablation'],
  ['examples', 'Examples'],
  ['probe', 'Probe'],
  ['optimizer-sweep', 'Optimizers'],
  ['hyperparameters', 'Runs'],
  ['environment', 'Environment'],
];

function claimsSection(results: ResultsFile, load: PerSampleLoader, names: ClaimModels): string {
  const rows: Cell[][] = assessClaims(results, load, names).map((c) => [String(c.claim), h(c.statement), `<strong>${h(c.verdictText)}</strong>`, h(c.deciding)]);
  return section('claims', "The paper's five claims", table(headers('#', 'claim', 'verdict', 'deciding numbers'), rows), h(CLAIMS_RULE));
}

/** Render the whole report as one self-contained HTML document. */
export function renderReport(results: ResultsFile, opts: RenderOptions): string {
  const load = opts.perSampleLoader;
  const extras = readExtras(results.extras);
  const checks = opts.checks ?? (results.checks.length ? results.checks : computeChecks(results, load));
  const charts = buildCharts(results, load, extras);
  const title = opts.title ?? 'opulab robustness report';
  const sections = [
    headlineSection(computeHeadline(results, load, checks)),
    opts.claims ? claimsSection(results, load, opts.claims) : '',
    summarySection(results, load),
    checksSection(checks),
    accuracySection(charts),
    gradientModesSection(results, charts, load),
    blackBoxSection(results, charts),
    transferSection(results),
    ablationSection(results, extras, load),
    examplesSection(extras),
    probeSection(extras, charts),
    optimizerSection(extras, charts),
    hyperparametersSection(results),
    environmentSection(results),
  ];
  const present = NAV.filter(([id]) => sections.some((s) => s.startsWith(`<section id="${id}"`)));
  const nav = `<nav class="no-print">${present.map(([id, t]) => `<a href="#${id}">${h(t)}</a>`).join('')}</nav>`;
  const fails = checks.filter((c) => c.status === 'fail').length;
  const warns = checks.filter((c) => c.status === 'warn').length;
  const env = results.environment;
  const subtitle = [
    `${results.models.length} model(s), ${results.runs.length} run(s)`,
    env.dataset ? `dataset ${env.dataset}` : '',
    `backend ${env.backend}`,
    env.startedAt ? `started ${env.startedAt}` : '',
  ]
    .filter(Boolean)
    .map((x) => h(x))
    .join(' · ');
  const problems = extras.problems.length
    ? `<div class="notice"><strong>Some extras were left out:</strong><ul>${extras.problems.map((p) => `<li>${h(p)}</li>`).join('')}</ul></div>`
    : '';
  const chartJs = opts.chartJsSource ?? readChartJs();
  return `${pageStart(title, String(env.opulab), REPORT_CSS, `<script>${ERROR_CAPTURE_SCRIPT}</script>\n`)}<header>
<h1>${h(title)}</h1>
<p class="subtitle">${subtitle}</p>
<p class="checks-line"><a href="#checks">Checks:</a> <span class="badge ${fails ? 'fail' : warns ? 'warn' : 'pass'}">${fails} fail · ${warns} warn</span></p>
${nav}
</header>
<div id="report-errors" class="errors" hidden><strong>Errors while drawing this report:</strong><ul></ul></div>
${problems}
<main>
${sections.filter(Boolean).join('\n')}
</main>
<footer>Generated by opulab ${h(env.opulab)} from ${h(results.schema)}. Self-contained: opens offline.</footer>
<div id="render-status" hidden></div>
<script type="application/json" id="report-data">${jsonForScript({ charts })}</script>
<script>${escapeScriptContent(chartJs)}</script>
<script>${escapeScriptContent(CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}
