/**
 * End to end: render the fixture report, open it in headless Chromium (offline, file://), and assert that
 * every chart drew (the page's own render check counts painted canvas pixels) and no script error
 * occurred. Saves a full-page screenshot to test-output/report.png. Then, at 1280 and 1920 px, every
 * table of the report and of the compare view must fit its container (no sideways scrolling), with the
 * per-row toggles closed and open; the measured widths go to test-output/table-widths.json. Printing to
 * PDF gives A4 pages. Without Chromium the test skips loudly, except under CI (process.env.CI), where it fails.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { computeChecks } from '../reports/checks';
import { renderCompare, type CompareSide } from '../reports/compare';
import { renderReport } from '../reports/html';
import { loadResultsFile, perSampleLoaderFor } from '../reports/load';
import type { ResultsFile } from '../src/results/schema';

const FIXTURE = path.join(__dirname, 'fixtures', 'results-report.json');
const OUT_DIR = path.join(__dirname, '..', 'test-output');

function findChromium(): string | null {
  for (const name of [process.env.CHROMIUM_BIN, 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    if (!name) continue;
    const r = spawnSync('sh', ['-c', `command -v ${JSON.stringify(name)}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromium = findChromium();
if (!chromium && !process.env.CI) {
  console.warn('\n*** reports-e2e SKIPPED: no chromium found (apt-get install -y chromium, or set CHROMIUM_BIN). CI runs it. ***\n');
}
const maybe = chromium || process.env.CI ? describe : describe.skip;

function runChromium(args: string[]): string {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-chromium-'));
  try {
    return execFileSync(
      chromium as string,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=10000',
        ...args,
      ],
      { encoding: 'utf8', timeout: 90000, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
    );
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

maybe('report in headless Chromium', () => {
  it('draws every chart without errors and saves a screenshot', () => {
    if (!chromium) throw new Error('chromium not found but CI is set: install it (apt-get install -y chromium)');
    const results = loadResultsFile(FIXTURE);
    // a gradient mode with a run at one eps only (bpda-none: FGSM alone in the reproduction) leaves holes in its
    // bar chart, which reach the page as nulls (JSON has no NaN); they must draw as gaps, not as script errors
    const one = results.runs.find((r) => r.threat === 'white-box' && r.gradient === 'natural' && r.model.includes('optical'));
    if (!one) throw new Error('fixture: no white-box natural run on the optical model');
    results.runs.push({ ...one, gradient: 'bpda-none', perSample: undefined });
    const html = renderReport(results, { perSampleLoader: perSampleLoaderFor(FIXTURE) });
    expect(html).toMatch(/"label":"bpda-none","color":"[^"]+","data":\[[^\]]*null/);
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const file = path.join(OUT_DIR, 'report.html');
    fs.writeFileSync(file, html);

    const dom = runChromium(['--dump-dom', `file://${file}`]);
    const status = dom.match(/<div id="render-status"[^>]*>/);
    expect(status).not.toBeNull();
    const attr = (name: string): string | undefined => status![0].match(new RegExp(`${name}="([^"]*)"`))?.[1];
    const errors = dom.match(/<div id="report-errors"[\s\S]*?<\/div>/)?.[0] ?? '';
    expect({ ready: attr('data-ready'), errors: attr('data-errors'), errorText: errors.replace(/<[^>]+>/g, ' ').trim() }).toEqual({
      ready: '1',
      errors: '0',
      errorText: 'Errors while drawing this report:',
    });
    const charts = Number(attr('data-charts'));
    expect(charts).toBeGreaterThan(10);
    expect(Number(attr('data-built'))).toBe(charts);
    expect(Number(attr('data-drawn'))).toBe(charts);
    // Each canvas recorded its painted fraction: a chart with data paints more than axes alone.
    const painted = [...dom.matchAll(/data-painted="([0-9.]+)"/g)].map((m) => Number(m[1]));
    expect(painted.length).toBe(charts);
    for (const p of painted) expect(p).toBeGreaterThan(0.01);

    const shot = path.join(OUT_DIR, 'report.png');
    fs.rmSync(shot, { force: true });
    runChromium(['--window-size=1280,9000', `--screenshot=${shot}`, `file://${file}`]);
    const png = fs.readFileSync(shot);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1280);
  });
});

/** Injected after the report's own scripts: measures every table, then again with every <details> open. */
const MEASURE_SCRIPT = `<script>
(function () {
  function measure() {
    var tables = [].slice.call(document.querySelectorAll('table')).map(function (t) {
      var c = t.parentElement, s = t.closest('section');
      return { section: s ? s.id : '', cls: t.className, table: Math.round(t.getBoundingClientRect().width), container: c.clientWidth, scroll: c.scrollWidth };
    });
    return { viewport: document.documentElement.clientWidth, page: document.documentElement.scrollWidth, tables: tables };
  }
  var closed = measure();
  [].slice.call(document.querySelectorAll('details')).forEach(function (d) { d.open = true; });
  var pre = document.createElement('pre');
  pre.id = 'table-widths';
  pre.textContent = JSON.stringify({ closed: closed, open: measure() });
  document.body.appendChild(pre);
})();
</script>`;

interface TableWidth { section: string; cls: string; table: number; container: number; scroll: number }
interface PageWidths { viewport: number; page: number; tables: TableWidth[] }

function measureTables(html: string, name: string, width: number): { closed: PageWidths; open: PageWidths } {
  const file = path.join(OUT_DIR, `${name}-measure.html`);
  fs.writeFileSync(file, html.replace('</body>', `${MEASURE_SCRIPT}</body>`));
  const dom = runChromium([`--window-size=${width},1000`, '--dump-dom', `file://${file}`]);
  const text = dom.match(/<pre id="table-widths">([^<]*)<\/pre>/)?.[1];
  if (!text) throw new Error(`no measurement from ${file}`);
  return JSON.parse(text.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}

function expectFits(m: PageWidths, width: number, where: string): void {
  expect({ where, viewport: m.viewport }).toEqual({ where, viewport: width });
  expect({ where, page: m.page }).toEqual({ where, page: width });
  expect(m.tables.length).toBeGreaterThan(0);
  for (const t of m.tables) {
    const over = t.table > t.container || t.scroll > t.container;
    expect({ where, ...t, over }).toEqual({ where, ...t, over: false });
  }
}

function comparePair(): { a: CompareSide; b: CompareSide } {
  const side = (tag: string, file: string, results: ResultsFile): CompareSide => {
    const load = perSampleLoaderFor(file);
    return { tag, file, results, load, checks: computeChecks(results, load) };
  };
  const a = loadResultsFile(FIXTURE);
  const b = JSON.parse(JSON.stringify(a)) as ResultsFile;
  for (const r of b.runs) r.robustAccuracy = Math.min(r.cleanAccuracy, r.robustAccuracy + 0.03);
  return { a: side('A', FIXTURE, a), b: side('B', FIXTURE, b) };
}

maybe('report layout in headless Chromium', () => {
  it('every table fits its container at 1280 and 1920 px (toggles closed and open), report and compare view', () => {
    if (!chromium) throw new Error('chromium not found but CI is set: install it (apt-get install -y chromium)');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const results = loadResultsFile(FIXTURE);
    const report = renderReport(results, { perSampleLoader: perSampleLoaderFor(FIXTURE) });
    const { a, b } = comparePair();
    const compare = renderCompare(a, b, { matchBy: 'id' });
    const summary: Record<string, unknown> = {};
    for (const width of [1280, 1920]) {
      const r = measureTables(report, 'report', width);
      expectFits(r.closed, width, `report@${width}`);
      expectFits(r.open, width, `report@${width} (details open)`);
      const c = measureTables(compare, 'compare', width);
      expectFits(c.closed, width, `compare@${width}`);
      summary[`report@${width}`] = r;
      summary[`compare@${width}`] = c.closed;
    }
    fs.writeFileSync(path.join(OUT_DIR, 'table-widths.json'), JSON.stringify(summary, null, 1));
  });

  it('prints to A4 PDF pages', () => {
    if (!chromium) throw new Error('chromium not found but CI is set: install it (apt-get install -y chromium)');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const results = loadResultsFile(FIXTURE);
    const file = path.join(OUT_DIR, 'report-print.html');
    fs.writeFileSync(file, renderReport(results, { perSampleLoader: perSampleLoaderFor(FIXTURE) }));
    const pdf = path.join(OUT_DIR, 'report.pdf');
    fs.rmSync(pdf, { force: true });
    runChromium(['--no-pdf-header-footer', `--print-to-pdf=${pdf}`, `file://${file}`]);
    const bytes = fs.readFileSync(pdf).toString('latin1');
    expect(bytes.startsWith('%PDF')).toBe(true);
    const pages = (bytes.match(/\/Type\s*\/Page(?!s)/g) ?? []).length;
    expect(pages).toBeGreaterThan(3);
    expect(pages).toBeLessThan(60);
    // A4 is 595 x 842 points.
    const boxes = [...bytes.matchAll(/\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/g)].map((m) => [Math.round(Number(m[1])), Math.round(Number(m[2]))]);
    expect(boxes.length).toBe(pages);
    for (const b of boxes) expect(b).toEqual([595, 842]);
  });
});
