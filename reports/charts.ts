/**
 * Chart specifications for the report: plain JSON (no functions) that the inlined browser script turns
 * into Chart.js charts. Building them here keeps the data logic testable in Node.
 */
import type { ResultsFile, RunRecord } from '../src/results/schema';
import { isUnboundedEps, worstCaseAccuracy, type PerSampleLoader } from './checks';
import type { ReportExtras } from './extras';
import { attackLabel, epsAs255, formatEps } from './format';
import { epsKey, gradientOf, groupBy, normalizationStdOf, seriesKey, seriesLabel } from './runs';

export interface ChartPoint {
  /** Pixel eps, queries, or category index. */
  x: number;
  y: number;
  /** Normalized-space eps of the same point (eps charts; absent when the normalization is unknown). */
  xn?: number;
}

export interface ChartDataset {
  label: string;
  color: string;
  data: ChartPoint[] | number[];
  dashed?: boolean;
  /** Draw points only (single-eps runs such as black-box attacks). */
  pointsOnly?: boolean;
  bold?: boolean;
  /** A reference line (clean accuracy): no point markers. */
  reference?: boolean;
}

export interface ChartSpec {
  id: string;
  /** Section the chart belongs to (its canvas is placed there). */
  section: 'accuracy' | 'gradient-modes' | 'black-box' | 'probe' | 'optimizer-sweep';
  title: string;
  type: 'line' | 'bar';
  /** eps: linear pixel/normalized eps axis; queries: log axis; category: `labels`. */
  xKind: 'eps' | 'queries' | 'category';
  labels?: string[];
  xTitle: string;
  yTitle: string;
  /** y values are fractions shown as percentages (0..100%). */
  yPercent: boolean;
  datasets: ChartDataset[];
  /** Pixel-per-normalized-unit factor (eps charts), for the axis toggle. */
  normalizationStd?: number;
}

/** Okabe–Ito colour-blind-safe palette, then a few extra distinct hues. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#8c564b', '#7f7f7f', '#bcbd22', '#17becf'];

function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}


function point(run: RunRecord, std: number | undefined): ChartPoint {
  return { x: run.eps, y: run.robustAccuracy, ...(std ? { xn: run.eps / std } : {}) };
}

function byEps(runs: RunRecord[]): RunRecord[] {
  // One point per eps: the strongest run (lowest accuracy) when a series repeats an eps.
  return [...groupBy(runs, (r) => epsKey(r.eps)).values()]
    .map((rs) => rs.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a)))
    .sort((a, b) => a.eps - b.eps);
}

function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Per model: an overview (per-example worst case, clean, best white-box, noise, black-box) + one chart per attack. */
function accuracyCharts(results: ResultsFile, load: PerSampleLoader): ChartSpec[] {
  const out: ChartSpec[] = [];
  const models = [...new Set(results.runs.map((r) => r.model))];
  models.forEach((model, mi) => {
    // bounded eps only: an unbounded eps 0.5 point would squash every other point on the axis
    const runs = results.runs.filter((r) => r.model === model && !isUnboundedEps(r));
    if (!runs.length) return;
    const std = normalizationStdOf(results, model);
    const epsList = [...new Set(runs.map((r) => epsKey(r.eps)))].map(Number).sort((a, b) => a - b);
    const clean = results.models.find((m) => m.id === model)?.cleanAccuracy ?? runs[0].cleanAccuracy;
    const xs = epsList.length ? [0, epsList[epsList.length - 1]] : [0];
    const cleanLine: ChartDataset = {
      label: 'clean accuracy',
      color: '#444444',
      dashed: true,
      reference: true,
      data: xs.map((x) => ({ x, y: clean, ...(std ? { xn: x / std } : {}) })),
    };
    const worst: ChartPoint[] = [];
    // Worst case only where a white-box attack ran: elsewhere (transfer-only eps) it is not a worst case.
    const whiteEps = epsList.filter((e) => runs.some((r) => r.threat === 'white-box' && sameKey(r.eps, e)));
    for (const eps of whiteEps) {
      const wc = worstCaseAccuracy(results, load, model, eps, runs.find((r) => sameKey(r.eps, eps))?.norm ?? 'linf');
      if (wc) worst.push({ x: eps, y: wc.accuracy, ...(std ? { xn: eps / std } : {}) });
    }
    const bestWhite = byEps(runs.filter((r) => r.threat === 'white-box')).map((r) => point(r, std));
    const overview: ChartDataset[] = [
      cleanLine,
      { label: 'worst case over all attacks (per example)', color: '#000000', bold: true, data: worst },
    ];
    if (bestWhite.length) overview.push({ label: 'best white-box attack', color: color(0), data: bestWhite });
    const noise = byEps(runs.filter((r) => r.threat === 'noise'));
    if (noise.length) overview.push({ label: 'random noise', color: '#999999', dashed: true, data: noise.map((r) => point(r, std)), pointsOnly: noise.length < 2 });
    [...groupBy(runs.filter((r) => r.threat === 'black-box-score' || r.threat === 'decision'), (r) => r.attack).entries()].forEach(([attack, rs], i) => {
      const pts = byEps(rs);
      overview.push({ label: `${attackLabel(attack)} (${rs[0].threat})`, color: color(3 + i), data: pts.map((r) => point(r, std)), pointsOnly: pts.length < 2 });
    });
    // Attacks run at a single eps appear here as points instead of in a chart of their own.
    const families = groupBy(runs.filter((r) => r.threat !== 'noise'), (r) => `${r.attack}|${r.threat}`);
    const single = [...families.values()].filter((rs) => new Set(rs.map((r) => epsKey(r.eps))).size < 2);
    single
      .filter((rs) => rs[0].threat === 'white-box' || rs[0].threat === 'transfer')
      .forEach((rs, i) => {
        const best = rs.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
        overview.push({ label: seriesLabel(best, false), color: color(6 + i), data: [point(best, std)], pointsOnly: true });
      });
    out.push(epsChart(`acc-${mi}-overview`, `${model}: all attacks`, overview, std));

    // One chart per (attack, threat): a line per gradient mode / source / step count.
    [...families.values()].filter((rs) => !single.includes(rs)).forEach((rs, fi) => {
      const series = groupBy(rs, seriesKey);
      const stepsVary = new Set(rs.map((r) => r.params.steps)).size > 1;
      const datasets: ChartDataset[] = [cleanLine];
      [...series.values()].forEach((s, si) => {
        const pts = byEps(s);
        datasets.push({ label: seriesLabel(s[0], stepsVary), color: color(si), data: pts.map((r) => point(r, std)), pointsOnly: pts.length < 2 });
      });
      const first = rs[0];
      const title = `${model}: ${attackLabel(first.attack)}${first.threat === 'white-box' ? '' : ` (${first.threat})`}`;
      out.push(epsChart(`acc-${mi}-${fi}-${safeId(first.attack)}`, title, datasets, std));
    });
  });
  return out;
}

function sameKey(a: number, b: number): boolean {
  return epsKey(a) === epsKey(b);
}

function epsChart(id: string, title: string, datasets: ChartDataset[], std: number | undefined): ChartSpec {
  // Reference lines (clean accuracy) span exactly the eps range of this chart's data.
  let max = 0;
  for (const d of datasets) if (!d.reference) for (const p of d.data as ChartPoint[]) max = Math.max(max, p.x);
  datasets = datasets.map((d) =>
    d.reference
      ? { ...d, data: (d.data as ChartPoint[]).slice(0, 1).flatMap((p) => [0, max].map((x) => ({ x, y: p.y, ...(std ? { xn: x / std } : {}) }))) }
      : d,
  );
  return {
    id,
    section: 'accuracy',
    title,
    type: 'line',
    xKind: 'eps',
    xTitle: 'eps (L-inf)',
    yTitle: 'robust accuracy',
    yPercent: true,
    datasets,
    ...(std ? { normalizationStd: std } : {}),
  };
}

/** For each model attacked white-box through several gradient paths: bars per mode at each eps. */
function gradientModeTable(results: ResultsFile): { model: string; modes: string[]; eps: number[]; accuracy: (RunRecord | null)[][] }[] {
  const out: { model: string; modes: string[]; eps: number[]; accuracy: (RunRecord | null)[][] }[] = [];
  for (const model of new Set(results.runs.map((r) => r.model))) {
    const wb = results.runs.filter((r) => r.model === model && r.threat === 'white-box' && !isUnboundedEps(r));
    const modes = [...new Set(wb.map(gradientOf))];
    if (modes.length < 2) continue;
    const eps = [...new Set(wb.map((r) => epsKey(r.eps)))].map(Number).sort((a, b) => a - b);
    const accuracy = modes.map((g) =>
      eps.map((e) => {
        const rs = wb.filter((r) => gradientOf(r) === g && sameKey(r.eps, e));
        return rs.length ? rs.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a)) : null;
      }),
    );
    out.push({ model, modes, eps, accuracy });
  }
  return out;
}

function gradientModeCharts(results: ResultsFile): ChartSpec[] {
  return gradientModeTable(results).map((t, i) => ({
    id: `grad-${i}`,
    section: 'gradient-modes' as const,
    title: `${t.model}: strongest white-box attack per gradient mode`,
    type: 'bar' as const,
    xKind: 'category' as const,
    labels: t.eps.map((e) => formatEps(e)),
    xTitle: 'eps (pixel)',
    yTitle: 'robust accuracy',
    yPercent: true,
    datasets: t.modes.map((m, mi) => ({ label: m, color: color(mi), data: t.accuracy[mi].map((r) => (r ? r.robustAccuracy : NaN)) })),
  }));
}

function blackBoxCharts(results: ResultsFile): ChartSpec[] {
  const runs = results.runs.filter((r) => r.queries?.curve && r.queries.curve.length > 0);
  if (!runs.length) return [];
  return [
    {
      id: 'bb-curves',
      section: 'black-box',
      title: 'success rate vs queries',
      type: 'line',
      xKind: 'queries',
      xTitle: 'queries (log scale)',
      yTitle: 'success rate (of correctly classified)',
      yPercent: true,
      datasets: runs.map((r, i) => ({
        label: `${attackLabel(r.attack)} on ${r.model} at ${epsAs255(r.eps)}`,
        color: color(i),
        data: (r.queries!.curve as [number, number][]).filter(([q]) => q > 0).map(([q, s]) => ({ x: q, y: s })),
      })),
    },
  ];
}

function probeCharts(extras: ReportExtras): ChartSpec[] {
  if (!extras.probe) return [];
  const { layers, curves } = extras.probe;
  return curves.map((c, i) => ({
    id: `probe-${i}`,
    section: 'probe' as const,
    title: `${c.model}${c.attack ? `: ${attackLabel(c.attack)}` : ''}${typeof c.eps === 'number' ? ` at ${epsAs255(c.eps)}` : ''}`,
    type: 'line' as const,
    xKind: 'category' as const,
    labels: layers,
    xTitle: 'layer (low level → high level)',
    yTitle: 'feature correlation',
    yPercent: false,
    datasets: [
      { label: 'clean vs adversarial', color: color(1), data: c.cleanVsAdv, bold: true },
      { label: 'same class', color: color(2), data: c.sameClass },
      { label: 'different class', color: color(0), data: c.differentClass, dashed: true },
    ],
  }));
}

function optimizerCharts(extras: ReportExtras): ChartSpec[] {
  const rows = extras.optimizerSweep;
  if (!rows.length) return [];
  const datasets: ChartDataset[] = [{ label: 'clean accuracy', color: color(0), data: rows.map((r) => r.cleanAccuracy) }];
  if (rows.some((r) => typeof r.robustAccuracy === 'number')) {
    datasets.push({ label: 'robust accuracy', color: color(1), data: rows.map((r) => (typeof r.robustAccuracy === 'number' ? r.robustAccuracy : NaN)) });
  }
  return [
    {
      id: 'optimizer-sweep',
      section: 'optimizer-sweep',
      title: 'backbone × optimizer',
      type: 'bar',
      xKind: 'category',
      labels: rows.map((r) => `${r.backbone} / ${r.optimizer}`),
      xTitle: 'backbone / optimizer',
      yTitle: 'accuracy',
      yPercent: true,
      datasets,
    },
  ];
}

/** Every chart of the report, in section order. */
export function buildCharts(results: ResultsFile, load: PerSampleLoader, extras: ReportExtras): ChartSpec[] {
  return [
    ...accuracyCharts(results, load),
    ...gradientModeCharts(results),
    ...blackBoxCharts(results),
    ...probeCharts(extras),
    ...optimizerCharts(extras),
  ];
}
