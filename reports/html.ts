/**
 * The self-contained HTML robustness report: one file, Chart.js inlined, data inlined as JSON, opens
 * offline. Tables are rendered here (readable without JavaScript and in print); charts are drawn in the
 * browser from JSON specs (reports/charts.ts). Every user string is HTML-escaped.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CheckRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { buildCharts, gradientModeTable, type ChartSpec } from './charts';
import { computeChecks, worstCaseAccuracy, type PerSampleLoader } from './checks';
import { CLIENT_SCRIPT, ERROR_CAPTURE_SCRIPT } from './client';
import { decodeImage, readExtras, type DecodedImage, type ExampleImage, type ReportExtras } from './extras';
import { attackLabel, epsAs255, escapeHtml as h, formatEps, pct } from './format';
import { encodePng, pngDataUri, upscaleNearest } from './png';
import { epsKey, gradientOf, groupBy, numParam, sameEps, seriesLabel } from './runs';
import { REPORT_CSS } from './style';
import { defenseCell, DEFENSE_KEYS } from './defense';

export interface RenderOptions {
  perSampleLoader: PerSampleLoader;
  title?: string;
  /** Checks to show; default: results.checks, or computed when that is empty. */
  checks?: CheckRecord[];
  /** Chart.js UMD source; default: read from node_modules at run time. */
  chartJsSource?: string;
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
type Cell = string | { html: string; cls?: string; style?: string; title?: string };

function table(headers: string[], rows: Cell[][], cls = ''): string {
  const th = headers.map((x) => `<th>${h(x)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        '<tr>' +
        r
          .map((c) =>
            typeof c === 'string'
              ? `<td>${c}</td>`
              : `<td${c.cls ? ` class="${c.cls}"` : ''}${c.style ? ` style="${c.style}"` : ''}${c.title ? ` title="${h(c.title)}"` : ''}>${c.html}</td>`,
          )
          .join('') +
        '</tr>',
    )
    .join('\n');
  return `<div class="table-wrap"><table class="${cls}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function section(id: string, title: string, body: string, intro = ''): string {
  return `<section id="${id}"><h2>${h(title)}</h2>${intro ? `<p class="intro">${intro}</p>` : ''}\n${body}\n</section>`;
}

function canvases(charts: ChartSpec[], sectionId: ChartSpec['section'], wide = false): string {
  const list = charts.filter((c) => c.section === sectionId);
  return `<div class="chart-grid${wide ? ' wide' : ''}">${list
    .map((c) => `<figure class="chart"><div class="chart-box"><canvas id="chart-${h(c.id)}" role="img" aria-label="${h(c.title)}"></canvas></div></figure>`)
    .join('')}</div>`;
}

/** Background for an accuracy cell: red (0%) through yellow to green (100%). */
function heat(acc: number): string {
  const hue = Math.round(Math.max(0, Math.min(1, acc)) * 120);
  return `background:hsl(${hue},70%,85%)`;
}

function epsCell(eps: number): string {
  return `${h(Number(eps.toPrecision(3)))} <span class="muted">(${h(epsAs255(eps))})</span>`;
}

function modelsWithRuns(results: ResultsFile): string[] {
  const ids = results.models.map((m) => m.id);
  for (const r of results.runs) if (!ids.includes(r.model)) ids.push(r.model);
  return ids;
}

// ---- sections -----------------------------------------------------------------------------------------
function summarySection(results: ResultsFile, load: PerSampleLoader): string {
  const epsList = [...new Set(results.runs.map((r) => epsKey(r.eps)))].map(Number).sort((a, b) => a - b);
  let upper = false;
  let noWhite = false;
  const rows: Cell[][] = modelsWithRuns(results).map((id) => {
    const m = results.models.find((x) => x.id === id);
    const cells: Cell[] = [
      `<strong>${h(id)}</strong>`,
      defenseCell(m),
      h(m?.training ?? '—'),
      { html: pct(m?.cleanAccuracy), style: typeof m?.cleanAccuracy === 'number' ? heat(m.cleanAccuracy) : '' },
      h(m?.n ?? '—'),
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
  const headers = ['model', 'defense', 'training', 'clean', 'n', ...epsList.map((e) => `eps ${Number(e.toPrecision(3))} (${epsAs255(e)})`)];
  const note =
    'Robust accuracy per eps is the per-example worst case over every attack run at that eps (an example counts only if all attacks left it correct; check C14).' +
    (upper ? ' <sup>†</sup> some runs lack per-sample records: the value is an upper bound.' : '') +
    (noWhite ? ' <sup>‡</sup> no white-box attack at this eps (transfer or black-box only): not a worst case.' : '');
  return section('summary', 'Summary', table(headers, rows, 'summary'), note);
}

const BADGE: Record<CheckRecord['status'], string> = { pass: 'pass', warn: 'warn', fail: 'fail', skipped: 'skipped' };

function checksSection(checks: CheckRecord[]): string {
  const count = (s: CheckRecord['status']): number => checks.filter((c) => c.status === s).length;
  const counts = (['fail', 'warn', 'pass', 'skipped'] as const)
    .map((s) => `<span class="badge ${BADGE[s]}">${count(s)} ${s}</span>`)
    .join(' ');
  const items = checks
    .map((c) => `<li class="check ${BADGE[c.status] ?? 'skipped'}"><span class="badge ${BADGE[c.status] ?? 'skipped'}">${h(c.status)}</span> <strong>${h(c.id)}</strong> ${h(c.detail)}</li>`)
    .join('\n');
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

function gradientModesSection(results: ResultsFile, charts: ChartSpec[]): string {
  const tables = gradientModeTable(results);
  if (!tables.length) return section('gradient-modes', 'Gradient modes', '<p class="muted">No model was attacked white-box through more than one gradient path.</p>');
  const body = tables
    .map((t) => {
      const rows: Cell[][] = t.modes.map((m, mi) => [
        `<strong>${h(m)}</strong>`,
        ...t.accuracy[mi].map((r): Cell => (r ? { html: pct(r.robustAccuracy), style: heat(r.robustAccuracy), title: seriesLabel(r, true) } : { html: '<span class="muted">—</span>' })),
      ]);
      return `<h3>${h(t.model)}</h3>` + table(['gradient mode', ...t.eps.map((e) => `${Number(e.toPrecision(3))} (${epsAs255(e)})`)], rows);
    })
    .join('\n');
  return section(
    'gradient-modes',
    'Gradient modes (BPDA comparison)',
    canvases(charts, 'gradient-modes', true) + body,
    'Strongest white-box attack through each gradient path: natural (what the model exposes), BPDA with a random backward matrix, the true transmission matrix (oracle), or an estimated one. A large gap between natural and BPDA means the natural gradient is masked.',
  );
}

function blackBoxSection(results: ResultsFile, charts: ChartSpec[]): string {
  const runs = results.runs.filter((r) => r.threat === 'black-box-score' || r.threat === 'decision');
  if (!runs.length) return section('black-box', 'Black-box attacks', '<p class="muted">No score- or decision-based runs.</p>');
  const rows: Cell[][] = runs.map((r) => [
    h(r.model),
    h(attackLabel(r.attack)),
    h(r.threat),
    epsCell(r.eps),
    h(numParam(r, 'maxQueries', 'queries') ?? '—'),
    pct(r.successRate),
    { html: pct(r.robustAccuracy), style: heat(r.robustAccuracy) },
    h(r.queries ? Math.round(r.queries.mean) : '—'),
    h(r.queries ? Math.round(r.queries.median) : '—'),
  ]);
  return section(
    'black-box',
    'Black-box attacks',
    canvases(charts, 'black-box', true) + table(['model', 'attack', 'threat', 'eps', 'query budget', 'success rate', 'robust acc.', 'mean queries', 'median queries'], rows),
    'Success rate among correctly classified images as a function of the queries spent.',
  );
}

function transferSection(results: ResultsFile): string {
  const tr = results.runs.filter((r) => r.threat === 'transfer' && r.source);
  if (!tr.length) return section('transfer', 'Transfer attacks', '<p class="muted">No transfer runs.</p>');
  const models = modelsWithRuns(results);
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
    const eIn = runs[0].epsSpace === 'normalized' && typeof runs[0].epsInSpace === 'number' ? `, ${runs[0].epsInSpace} normalized` : '';
    return `<div class="matrix"><h3>${h(attackLabel(runs[0].attack))} at eps ${h(Number(eps.toPrecision(3)))} (${h(epsAs255(eps))}${h(eIn)})</h3>${table(['source \\ target', ...targets], rows, 'matrix')}</div>`;
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

function ablationSection(extras: ReportExtras): string {
  if (!extras.ablation.length) return '';
  const cols = [...new Set(extras.ablation.flatMap((r) => Object.keys(r).filter((k) => k !== 'variant')))];
  const rows: Cell[][] = extras.ablation.map((r) => [
    `<strong>${h(r.variant)}</strong>`,
    ...cols.map((c): Cell => {
      const v = r[c];
      if (typeof v === 'boolean') return { html: v ? '✓' : '<span class="muted">—</span>', cls: 'center' };
      if (typeof v === 'number' && isAccuracyColumn(c)) return { html: pct(v), style: heat(v) };
      return v === undefined || v === null ? { html: '<span class="muted">—</span>' } : h(v);
    }),
  ]);
  return section('ablation', 'Ablation', table(['variant', ...cols], rows), 'Which part of the defense buys the robustness (REFERENCE §4: DFA only, + binarization, + fixed random projection, + both).');
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
    return `<div class="example">${img(clean, `clean (${e.cleanPrediction ?? e.label ?? '?'})`)}${img(adv, `adversarial (${e.adversarialPrediction ?? '?'})`)}${img(pert, `perturbation ×${amp !== undefined ? Number(amp.toPrecision(3)) : '?'}`)}<p class="muted">${h(meta)}<br>${h(pred)}</p></div>`;
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
    canvases(charts, 'optimizer-sweep', true) + table(['backbone', 'optimizer', 'clean', 'robust', 'robust under'], rows),
    'Backbone–optimizer coupling (Li et al. 2024): accuracy and robustness per pair.',
  );
}

const SHOWN_PARAMS = ['steps', 'iterations', 'stepSize', 'alpha', 'restarts', 'maxQueries', 'queries', 'seed', 'loss'];

function paramValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function hyperparametersSection(results: ResultsFile): string {
  const rows: Cell[][] = results.runs.map((r: RunRecord, i) => {
    const other = Object.entries(r.params)
      .filter(([k]) => !SHOWN_PARAMS.includes(k))
      .map(([k, v]) => `${h(k)}=${h(paramValue(v))}`)
      .join('<br>');
    const seed = numParam(r, 'seed') ?? (typeof r.seed === 'number' ? r.seed : undefined);
    return [
      h(i),
      h(r.model),
      h(attackLabel(r.attack)) + (r.source ? `<br><span class="muted">from ${h(r.source)}</span>` : ''),
      h(r.threat),
      h(r.norm),
      epsCell(r.eps),
      r.epsSpace === 'normalized' && typeof r.epsInSpace === 'number' ? `${h(r.epsInSpace)} <span class="muted">normalized</span>` : `<span class="muted">${h(r.epsSpace ?? '—')}</span>`,
      h(gradientOf(r) || '—'),
      h(numParam(r, 'steps', 'iterations') ?? '—'),
      h(numParam(r, 'stepSize', 'alpha') ?? '—'),
      h(numParam(r, 'restarts') ?? '—'),
      h(numParam(r, 'maxQueries', 'queries') ?? '—') + (r.queries ? `<br><span class="muted">used ${h(Math.round(r.queries.median))} median</span>` : ''),
      h(seed ?? '—'),
      h(typeof r.params.loss === 'string' ? r.params.loss : '—'),
      h(r.eot ? `${r.eot.samples} × / ${r.eot.evalPasses} passes` : '—'),
      h(r.n),
      pct(r.cleanAccuracy),
      { html: pct(r.robustAccuracy), style: heat(r.robustAccuracy) },
      h(typeof r.wallTimeSec === 'number' ? r.wallTimeSec.toFixed(1) : '—'),
      other || '<span class="muted">—</span>',
    ];
  });
  return section(
    'hyperparameters',
    'Runs and hyperparameters',
    table(
      ['#', 'model', 'attack', 'threat', 'norm', 'eps (pixel)', 'as specified', 'gradient', 'steps', 'step size', 'restarts', 'query budget', 'seed', 'loss', 'EOT', 'n', 'clean', 'robust', 'wall s', 'other params'],
      rows,
      'runs',
    ),
    'Every run with all its parameters (C15). eps is in pixel units of [0,1] images; "as specified" is what the user wrote.',
  );
}

function kvTable(entries: [string, unknown][]): string {
  return table(
    ['key', 'value'],
    entries.map(([k, v]) => [`<strong>${h(k)}</strong>`, h(typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))]),
    'kv',
  );
}

function environmentSection(results: ResultsFile): string {
  const env = results.environment;
  const totalOptical = results.models.reduce((s, m) => s + (typeof m.opticalTimeSec === 'number' ? m.opticalTimeSec : 0), 0);
  const entries: [string, unknown][] = Object.entries(env);
  if (totalOptical > 0) entries.push(['optical time (simulated, s)', totalOptical.toFixed(1)]);
  const runWall = results.runs.reduce((s, r) => s + (typeof r.wallTimeSec === 'number' ? r.wallTimeSec : 0), 0);
  if (runWall > 0) entries.push(['sum of run wall times (s)', runWall.toFixed(1)]);
  const models = table(
    ['model', 'architecture', 'defense', 'training', 'clean', 'n', 'optical time (s)', 'details'],
    results.models.map((m) => {
      const known = ['id', 'architecture', ...DEFENSE_KEYS, 'training', 'cleanAccuracy', 'n', 'opticalTimeSec'];
      const details = Object.entries(m)
        .filter(([k]) => !known.includes(k))
        .map(([k, v]) => `${h(k)}=${h(paramValue(v))}`)
        .join('<br>');
      return [
        `<strong>${h(m.id)}</strong>`,
        h(m.architecture ?? '—'),
        defenseCell(m),
        h(m.training ?? '—'),
        pct(m.cleanAccuracy),
        h(m.n),
        h(typeof m.opticalTimeSec === 'number' ? m.opticalTimeSec.toFixed(1) : '—'),
        details || '—',
      ];
    }),
    'runs',
  );
  return section('environment', 'Environment and models', kvTable(entries) + '<h3>Models</h3>' + models);
}

const NAV: [string, string][] = [
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

/** Render the whole report as one self-contained HTML document. */
export function renderReport(results: ResultsFile, opts: RenderOptions): string {
  const load = opts.perSampleLoader;
  const extras = readExtras(results.extras);
  const checks = opts.checks ?? (results.checks.length ? results.checks : computeChecks(results, load));
  const charts = buildCharts(results, load, extras);
  const title = opts.title ?? 'opulab robustness report';
  const sections = [
    summarySection(results, load),
    checksSection(checks),
    accuracySection(charts),
    gradientModesSection(results, charts),
    blackBoxSection(results, charts),
    transferSection(results),
    ablationSection(extras),
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
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="opulab ${h(env.opulab)}">
<title>${h(title)}</title>
<style>${REPORT_CSS}</style>
<script>${ERROR_CAPTURE_SCRIPT}</script>
</head>
<body>
<header>
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
