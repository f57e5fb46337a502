/**
 * End to end: render the fixture report, open it in headless Chromium (offline, file://), and assert that
 * every chart drew (the page's own render check counts painted canvas pixels) and no script error
 * occurred. Saves a full-page screenshot to test-output/report.png. Without Chromium the test skips
 * loudly, except under CI (process.env.CI), where it fails.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderReport } from '../reports/html';
import { loadResultsFile, perSampleLoaderFor } from '../reports/load';

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
    const html = renderReport(results, { perSampleLoader: perSampleLoaderFor(FIXTURE) });
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
