/** HTML report: sections, escaping, inlined data, PNG encoder, loader errors and the report command. */
import * as fs from 'fs';
import { checksFingerprint } from '../src/results/fingerprint';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import type { ResultsFile } from '../src/results/schema';
import { UserError } from '../src/util/errors';
import { renderReport, jsonForScript, escapeScriptContent, perturbationImage } from '../reports/html';
import { loadResultsFile, parsePerSample, perSampleLoaderFor } from '../reports/load';
import { crc32, encodePng, PNG_SIGNATURE } from '../reports/png';
import { readExtras } from '../reports/extras';
import { worstCaseAccuracy } from '../reports/checks';
import { epsAs255, escapeHtml } from '../reports/format';
import { runReport } from '../src/cli/commands/report';

const FIXTURE = path.join(__dirname, 'fixtures', 'results-report.json');
const CHART_STUB = '/* chart.js stub for tests that do not run a browser */';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-report-'));
}

describe('renderReport on the fixture', () => {
  const results = loadResultsFile(FIXTURE);
  const html = renderReport(results, { perSampleLoader: perSampleLoaderFor(FIXTURE) });

  it('contains every section', () => {
    for (const id of ['summary', 'checks', 'accuracy', 'gradient-modes', 'black-box', 'transfer', 'ablation', 'examples', 'probe', 'optimizer-sweep', 'hyperparameters', 'environment']) {
      expect(html).toContain(`<section id="${id}">`);
    }
    expect(html).toContain('name="eps-axis" value="normalized"');
    // Every run appears in the hyperparameter table (rows numbered 0..n-1).
    expect((html.match(/<tr><td class="num">\d+<\/td><td>vgg16/g) ?? []).length).toBe(results.runs.length);
  });

  it('inlines Chart.js and the chart data, with no external resources', () => {
    expect(html).toMatch(/Chart\.js v4/);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.chartjs\.org)[^\s"'<>]*\.(js|css)/);
    const data = JSON.parse(html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/)![1]);
    expect(data.charts.length).toBeGreaterThan(10);
    const ids = data.charts.map((c: { id: string }) => c.id);
    for (const id of ids) expect(html).toContain(`id="chart-${id}"`);
  });

  it('shows the computed checks with badges and k/255 eps', () => {
    expect(html).toMatch(/<span class="badge warn">warn<\/span> <strong>C5<\/strong>/);
    expect(html).toContain('8/255');
    expect(html).toMatch(/data:image\/png;base64,/);
  });

  it('per-example worst case is at most every single attack at that eps, and the summary marks transfer-only eps', () => {
    const load = perSampleLoaderFor(FIXTURE);
    for (const r of results.runs) {
      const wc = worstCaseAccuracy(results, load, r.model, r.eps, r.norm)!;
      expect(wc.perExample).toBe(true);
      expect(wc.accuracy).toBeLessThanOrEqual(r.robustAccuracy + 1e-12);
    }
    const summary = html.slice(html.indexOf('<section id="summary">'), html.indexOf('<section id="checks">'));
    expect(summary).toContain('vgg16-w0.25-optical-hybrid');
    expect(summary).toMatch(/‡/); // eps 0.05 has transfer runs only
  });
});

describe('escaping', () => {
  it('renders a model id with <script> and </script> inert', () => {
    const evil = 'm<script>alert(1)</script><img src=x onerror=alert(2)>';
    const results: ResultsFile = {
      schema: 'opulab.results/1',
      environment: { backend: '<b>cpu</b>', workers: 1, opulab: '0.1.0', node: 'v20', seed: 0 },
      models: [{ id: evil, cleanAccuracy: 0.8, n: 10, defense: '"><script>x()</script>' }],
      runs: [
        { model: evil, attack: 'pgd</script><script>alert(3)</script>', threat: 'white-box', norm: 'linf', eps: 8 / 255, epsSpace: 'pixel', params: { steps: 10, note: '</script><!--' }, n: 10, cleanAccuracy: 0.8, robustAccuracy: 0.1 },
        { model: evil, attack: 'fgsm', threat: 'white-box', norm: 'linf', eps: 4 / 255, epsSpace: 'pixel', params: { steps: 1 }, n: 10, cleanAccuracy: 0.8, robustAccuracy: 0.3 },
      ],
      checks: [{ id: 'C1', status: 'pass', detail: '<script>alert(4)</script>' }],
      extras: { ablation: [{ variant: '<i>x</i>', cleanAccuracy: 0.5 }] },
    };
    const html = renderReport(results, { perSampleLoader: () => null, title: '<title>t</title>', chartJsSource: CHART_STUB });
    // The only <script> tags are the report's own four.
    expect((html.match(/<script/gi) ?? []).length).toBe(4);
    expect((html.match(/<\/script/gi) ?? []).length).toBe(4);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>cpu</b>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;i&gt;x&lt;/i&gt;');
    // The JSON block still parses back to the original strings.
    const json = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/)![1];
    expect(json).not.toMatch(/</);
    expect(JSON.stringify(JSON.parse(json))).toContain('alert(1)</script>');
  });

  it('escape helpers', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(JSON.parse(jsonForScript({ s: '</script><!--&' }))).toEqual({ s: '</script><!--&' });
    expect(escapeScriptContent('a="</SCRIPT>";b="<!--"')).toBe('a="<\\/SCRIPT>";b="<\\!--"');
    expect(epsAs255(8 / 255)).toBe('8/255');
    expect(epsAs255(0.005)).toBe('1.3/255');
  });
});

describe('PNG encoder', () => {
  it('writes a valid PNG whose IDAT inflates back to the pixels', () => {
    const w = 3, h = 2;
    const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const png = encodePng(w, h, 3, px);
    expect([...png.subarray(0, 8)]).toEqual([...PNG_SIGNATURE]);
    // Walk the chunks and verify lengths and CRCs.
    let off = 8;
    const chunks: { type: string; data: Buffer }[] = [];
    while (off < png.length) {
      const len = png.readUInt32BE(off);
      const type = png.toString('ascii', off + 4, off + 8);
      const data = png.subarray(off + 8, off + 8 + len);
      expect(png.readUInt32BE(off + 8 + len)).toBe(crc32(png.subarray(off + 4, off + 8 + len)));
      chunks.push({ type, data });
      off += 12 + len;
    }
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(chunks[0].data.readUInt32BE(0)).toBe(w);
    expect(chunks[0].data.readUInt32BE(4)).toBe(h);
    expect([chunks[0].data[8], chunks[0].data[9]]).toEqual([8, 2]);
    const raw = zlib.inflateSync(chunks[1].data);
    expect(raw.length).toBe(h * (1 + w * 3));
    for (let y = 0; y < h; y++) {
      expect(raw[y * (1 + w * 3)]).toBe(0);
      expect([...raw.subarray(y * (1 + w * 3) + 1, (y + 1) * (1 + w * 3))]).toEqual([...px.subarray(y * w * 3, (y + 1) * w * 3)]);
    }
  });

  it('CRC-32 matches the standard check value and bad sizes are UserErrors', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(() => encodePng(2, 2, 3, new Uint8Array(5))).toThrow(UserError);
  });

  it('perturbation image is mid-gray where nothing changed and spans the range where it did', () => {
    const clean = { width: 2, height: 1, channels: 1 as const, pixels: Uint8Array.from([100, 100]) };
    const adv = { ...clean, pixels: Uint8Array.from([100, 108]) };
    const p = perturbationImage(clean, adv)!;
    expect([...p.image.pixels]).toEqual([128, 255]);
  });
});

describe('extras validation', () => {
  it('keeps valid extras and explains malformed ones', () => {
    const e = readExtras({ ablation: 'nope', probe: { layers: ['a', 'b'], curves: [{ model: 'm', cleanVsAdv: [1], sameClass: [1, 1], differentClass: [0, 0] }] }, optimizerSweep: [{ backbone: 'vgg', optimizer: 'sgd', cleanAccuracy: 0.8 }] });
    expect(e.ablation).toEqual([]);
    expect(e.optimizerSweep.length).toBe(1);
    expect(e.probe!.curves.length).toBe(0);
    expect(e.problems.length).toBe(2);
  });
});

describe('loading results and per-sample files', () => {
  it('UserError on a missing, corrupt or wrong-schema file', () => {
    const dir = tmpDir();
    expect(() => loadResultsFile(path.join(dir, 'nope.json'))).toThrow(/not found/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"schema": ');
    expect(() => loadResultsFile(path.join(dir, 'bad.json'))).toThrow(UserError);
    fs.writeFileSync(path.join(dir, 'old.json'), JSON.stringify({ schema: 'opulab.results/0', environment: {}, models: [], runs: [], checks: [] }));
    expect(() => loadResultsFile(path.join(dir, 'old.json'))).toThrow(/schema: expected "opulab.results\/1" or "opulab.results\/2", got "opulab.results\/0"/);
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ schema: 'opulab.results/1', environment: {}, models: [], runs: [{ model: 'm', attack: 'pgd', threat: 'white-box', eps: 'big', robustAccuracy: 0 }], checks: [] }));
    expect(() => loadResultsFile(path.join(dir, 'run.json'))).toThrow(/runs\[0\]\.eps: expected a number/);
  });

  it('per-sample JSONL: ignores a torn last line, rejects a bad middle line', () => {
    const good = '{"index":0,"label":1,"cleanPrediction":1,"adversarialPrediction":2,"success":true,"eps":0.03}';
    expect(parsePerSample(`${good}\n${good}\n{"index":`, 'f').length).toBe(2);
    expect(() => parsePerSample(`${good}\n{"ind\n${good}\n`, 'f')).toThrow(/line 2/);
    const load = perSampleLoaderFor(FIXTURE);
    const results = loadResultsFile(FIXTURE);
    expect(load(results.runs[0])!.length).toBe(results.runs[0].n);
    expect(load({ ...results.runs[0], perSample: 'missing.jsonl' })).toBeNull();
  });
});

describe('report command', () => {
  it('computes checks when results.checks is empty and writes the report atomically', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'sub', 'report.html');
    const lines: string[] = [];
    const res = runReport({ results: FIXTURE, out, log: (l) => lines.push(l) });
    expect(res.checks.length).toBe(17);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['report.html']);
    expect(lines.join('\n')).toMatch(/C5 warn: on vgg16-w0.25-optical-hybrid/);
  });

  it('uses stored checks unless --recheck', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'results.json');
    const data = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
    data.checks = [{ id: 'C99', status: 'warn', detail: 'stored' }];
    data.checksOf = checksFingerprint(data); // stored checks are used only while they match the runs
    fs.writeFileSync(file, JSON.stringify(data));
    expect(runReport({ results: file, log: () => undefined }).checks.map((c) => c.id)).toEqual(['C99']);
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
    expect(runReport({ results: file, recheck: true, log: () => undefined }).checks.length).toBe(17);
    expect(() => runReport({ results: file, out: file, log: () => undefined })).toThrow(UserError);
    expect(() => runReport({ results: path.join(dir, 'none.json'), log: () => undefined })).toThrow(UserError);
  });
});
