/** The report as a reader sees it: number formatting, the headline block, the runs table and the compare view. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ResultsFile, RunRecord } from '../src/results/schema';
import { UserError } from '../src/util/errors';
import { computeChecks, worstCaseAccuracy } from '../reports/checks';
import { compareAttacks, matchModels, renderCompare, type CompareSide } from '../reports/compare';
import { attackLabel, formatEps, formatInt, formatSeconds, formatValue, pct3, points, sig3 } from '../reports/format';
import { atEps, baselineFor, checkItemHtml, computeHeadline, headlineSentence, mentionsModel } from '../reports/headline';
import { renderReport } from '../reports/html';
import { loadResultsFile, perSampleLoaderFor } from '../reports/load';
import { runCompare } from '../src/cli/commands/report';
import { main } from '../src/cli/main';

const FIXTURE = path.join(__dirname, 'fixtures', 'results-report.json');
const FIXTURE_RUNS = path.join(__dirname, 'fixtures', 'results-report');
const CHART_STUB = '/* chart.js stub */';
const BASE = 'vgg16-w0.25-none-bp';
const DEF = 'vgg16-w0.25-optical-hybrid';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-readable-'));
}

/** The text a reader sees: the HTML before the inlined data and scripts, tags removed. */
function visibleText(html: string): string {
  const body = html.slice(html.indexOf('<body>'), html.indexOf('<script type="application/json"'));
  return body.replace(/<[^>]+>/g, ' ').replace(/&[a-z#0-9]+;/g, ' ');
}

describe('number formatting', () => {
  it('3 significant digits, integers, eps as k/255 with the decimal, rates, durations', () => {
    expect(sig3(0.00196078431372549)).toBe('0.00196');
    expect(sig3(0.0078431372549)).toBe('0.00784');
    expect(sig3(50)).toBe('50');
    expect(sig3(1234.56)).toBe('1235');
    expect(formatEps(8 / 255)).toBe('8/255 (0.0314)');
    expect(formatEps(0.005)).toBe('1.3/255 (0.005)');
    expect(formatEps(0)).toBe('0');
    expect(formatInt(4999.6)).toBe('5,000');
    expect(pct3(0.0004)).toBe('0.04%');
    expect(pct3(0.41234)).toBe('41.2%');
    expect(points(0.031)).toBe('+3.1');
    expect(points(-0.2)).toBe('−20.0');
    expect(points(0.00001)).toBe('±0.0');
    expect(formatSeconds(8.14)).toBe('8.1 s');
    expect(formatSeconds(690)).toBe('11.5 min');
    expect(formatValue({ lr: 0.000300001, nesterov: true, milestones: [45, 60] })).toBe('lr 0.0003, nesterov yes, milestones [45, 60]');
    expect(formatValue([{ epoch: 1 }, { epoch: 2 }])).toBe('2 records');
    expect(attackLabel('pgd-unbounded')).toBe('PGD-unbounded');
    expect(attackLabel('transfer-pgd')).toBe('Transfer-PGD');
    expect(attackLabel('apgd-dlr')).toBe('APGD-DLR');
    expect(attackLabel('pgd50-reference')).toBe('PGD50-reference');
    expect(attackLabel('bandits-td-eta0.5')).toBe('Bandits-TD-eta0.5');
    expect(attackLabel('bandits-eta0.5')).toBe('Bandits-TD-eta0.5');
  });
});

describe('headline', () => {
  const results = loadResultsFile(FIXTURE);
  const load = perSampleLoaderFor(FIXTURE);
  const checks = computeChecks(results, load);
  const hl = computeHeadline(results, load, checks);

  it('has one card per defended model, compared with the undefended baseline at every bounded eps', () => {
    expect(hl.models.map((m) => m.id)).toEqual([DEF]);
    const m = hl.models[0];
    expect(m.baseline?.id).toBe(BASE);
    expect(m.clean).toBe(0.765);
    // Direct attacks ran at 5 bounded eps; 0.05 has transfer runs only and 0.5 is unbounded (C4).
    expect(m.rows.map((r) => sig3(r.eps))).toEqual(['0.005', '0.01', '0.015', '0.025', '0.0314']);
    for (const r of m.rows) {
      const wc = worstCaseAccuracy(results, load, DEF, r.eps, r.norm)!;
      expect(r.defended.accuracy).toBe(wc.accuracy);
      expect(r.baseline!.accuracy).toBe(worstCaseAccuracy(results, load, BASE, r.eps, r.norm)!.accuracy);
      // The strongest single attack is the run with the lowest accuracy at that eps, never noise.
      const direct = results.runs.filter((x) => x.model === DEF && x.threat !== 'noise' && Math.abs(x.eps - r.eps) < 1e-9);
      expect(r.strongest.robustAccuracy).toBe(Math.min(...direct.map((x) => x.robustAccuracy)));
      expect(r.defended.accuracy).toBeLessThanOrEqual(r.strongest.robustAccuracy);
    }
    const at8 = m.rows[4];
    expect(at8.strongest.attack).toBe('apgd-dlr');
    expect(at8.strongest.gradient).toBe('bpda-true');
  });

  it('writes its sentence from the numbers', () => {
    const s = hl.models[0].sentence;
    expect(s).toContain('clean accuracy 76.5% against 79.5% for the undefended vgg16-w0.25-none-bp (−3.0 points)');
    // 39 attacks: the 11 at 8/255 and the 28 at smaller eps (inside the 8/255 ball too)
    expect(s).toContain('At eps 8/255 (0.0314), the per-example worst case over 39 attacks leaves 0.0% robust accuracy, against 0.0% for the baseline (±0.0 points)');
    expect(s).toContain('the strongest single attack was APGD-DLR (bpda-true gradient, 100 steps, EOT 8) at 0.5%');
    // PGD with the natural gradient leaves 59.5% at 8/255: the sentence quantifies the overstatement.
    expect(s).toContain('natural gradient it keeps 59.5%');
    expect(s).toContain('overstate its robustness by 59.5 points');
    expect(s).toMatch(/3 warn \(C2, C5, C13\)/);
    // Change a number and the sentence follows.
    const changed = headlineSentence({ ...hl.models[0], clean: 0.5, checks: [] });
    expect(changed).toContain('clean accuracy 50.0% against 79.5%');
    expect(changed).toContain('(−29.5 points)');
    expect(changed).toContain('No check that applies to it fails or warns.');
  });

  it('attributes checks to the models they name', () => {
    expect(mentionsModel(`on ${DEF} (natural gradient)`, DEF)).toBe(true);
    expect(mentionsModel(`on ${DEF}-2 at eps`, DEF)).toBe(false);
    expect(mentionsModel(`leaves the undefended ${BASE}.`, BASE)).toBe(true);
    const onlyBase = { id: 'C13', status: 'fail' as const, detail: `PGD leaves the undefended ${BASE} at 80.0%` };
    const h2 = computeHeadline(results, load, [onlyBase]);
    expect(h2.models[0].checks).toEqual([]);
    expect(h2.otherChecks).toEqual([onlyBase]);
  });

  it('shows extra fields a check record carries after its detail', () => {
    const c = { id: 'C5', status: 'warn' as const, detail: 'not converged', whyNotAtThisScale: '10 steps is the demo budget' };
    expect(checkItemHtml(c)).toBe(
      '<li class="check warn"><span class="badge warn">warn</span> <strong>C5</strong> not converged <span class="check-note"><em>why not at this scale:</em> 10 steps is the demo budget</span></li>',
    );
  });

  it('without a defended model, every model gets a card and no baseline', () => {
    const only: ResultsFile = { ...results, models: results.models.filter((m) => m.id === BASE), runs: results.runs.filter((r) => r.model === BASE) };
    const h3 = computeHeadline(only, load, []);
    expect(h3.models.map((m) => [m.id, m.defended, m.baseline])).toEqual([[BASE, false, null]]);
    expect(baselineFor(results, DEF)).toBe(BASE);
  });

  it('names the eps of a combined run that ran inside a smaller ball', () => {
    const r = results.runs.find((x) => x.model === DEF && x.threat === 'transfer')!;
    expect(atEps(r, r.eps)).toBe('');
    expect(atEps(r, 8 / 255)).toBe(` at eps ${formatEps(r.eps)}`);
    expect(atEps(r, 8 / 255)).toMatch(/^ at eps \d/);
  });

  it('compares with an undefended model that was attacked, not with a surrogate that was only a transfer source', () => {
    const SUR = `${BASE}-surrogate`;
    const base = results.models.find((m) => m.id === BASE)!;
    // the defended model's transfer attacks now come from a separately trained surrogate, attacked by nothing
    const withSurrogate: ResultsFile = {
      ...results,
      models: [{ ...base, id: SUR, name: 'surrogate' }, ...results.models],
      runs: results.runs.map((r) => (r.threat === 'transfer' && r.source === BASE ? { ...r, source: SUR } : r)),
    };
    expect(withSurrogate.runs.some((r) => r.model === DEF && r.source === SUR)).toBe(true);
    expect(baselineFor(withSurrogate, DEF)).toBe(BASE);
    // with no undefended model attacked directly, the transfer source is the comparison
    const onlyTransfer: ResultsFile = { ...withSurrogate, runs: withSurrogate.runs.filter((r) => r.model !== BASE || r.threat === 'transfer') };
    expect(baselineFor(onlyTransfer, DEF)).toBe(SUR);
  });

  it('is the first section of the report, and the report shows no long decimals', () => {
    const html = renderReport(results, { perSampleLoader: load, chartJsSource: CHART_STUB });
    const main = html.slice(html.indexOf('<main>'));
    expect(main.indexOf('<section id="headline">')).toBe(main.indexOf('<section'));
    const text = visibleText(html);
    // Every number in results.runs with more than 3 significant digits (eps 0.031373, step 0.007843,
    // success rates 0.433962, ...) is shown rounded, never verbatim.
    const long = new Set<string>();
    const collect = (v: unknown): void => {
      if (typeof v === 'number' && !Number.isInteger(v) && String(Math.abs(v)).replace('.', '').replace(/^0+/, '').length > 3) long.add(String(v));
      else if (v && typeof v === 'object') Object.values(v as Record<string, unknown>).forEach(collect);
    };
    results.runs.forEach(collect);
    expect(long.size).toBeGreaterThan(10);
    for (const v of long) expect(text).not.toContain(v);
    expect(text).toContain('8/255');
    expect(text).toContain('0.0314');
    expect(text).toContain('200 steps × 0.00196');
    expect(text).toContain('5,000 queries');
  });
});

describe('runs table', () => {
  const results = loadResultsFile(FIXTURE);
  const html = renderReport(results, { perSampleLoader: perSampleLoaderFor(FIXTURE), chartJsSource: CHART_STUB });
  const runs = html.slice(html.indexOf('<section id="hyperparameters">'), html.indexOf('<section id="environment">'));

  it('shows the columns a reader needs and every other field behind a per-row toggle', () => {
    const head = runs.match(/<table class="runs"><thead><tr>(.*?)<\/tr>/)![1];
    expect(head.match(/<th>/g)!.length).toBe(9);
    const rows = runs.split('<tr>').slice(2);
    expect(rows.length).toBe(results.runs.length);
    rows.forEach((row, i) => {
      const r: RunRecord = results.runs[i];
      expect(row).toContain('<details class="row-more">');
      for (const k of Object.keys(r.params)) {
        const label = ({ steps: 'steps', iterations: 'steps', stepSize: 'step size', alpha: 'step size', restarts: 'restarts', maxQueries: 'query budget', queries: 'query budget', seed: 'seed', loss: 'loss' } as Record<string, string>)[k] ?? k;
        expect(row).toContain(`<dt>${label}</dt>`);
      }
      expect(row).toContain(`<dt>seed</dt><dd>${r.params.seed}</dd>`);
    });
    expect(runs).toContain('class="toggle-all"');
  });
});

// ---- compare -----------------------------------------------------------------------------------------------
/** Two results dirs from the fixture: B renames the defended model's id, raises its accuracies by 4 points and drops RayS. */
function makePair(): { a: string; b: string; dir: string } {
  const dir = tmpDir();
  const data = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as ResultsFile;
  for (const side of ['a', 'b']) {
    fs.mkdirSync(path.join(dir, side));
    fs.cpSync(FIXTURE_RUNS, path.join(dir, side, 'results-report'), { recursive: true });
  }
  data.models[0].name = 'baseline';
  data.models[1].name = 'optical';
  fs.writeFileSync(path.join(dir, 'a', 'results.json'), JSON.stringify(data));
  const b = JSON.parse(JSON.stringify(data)) as ResultsFile;
  const newId = `${DEF}-opu16k`;
  b.models[1].id = newId;
  b.models[1].cleanAccuracy = 0.772;
  for (const r of b.runs) {
    if (r.model === DEF) {
      r.model = newId;
      r.robustAccuracy = Math.min(r.cleanAccuracy, r.robustAccuracy + 0.04);
      delete r.perSample;
    }
    if (r.source === DEF) r.source = newId;
  }
  b.runs = b.runs.filter((r) => r.attack !== 'rays');
  fs.writeFileSync(path.join(dir, 'b', 'results.json'), JSON.stringify(b));
  return { a: path.join(dir, 'a', 'results.json'), b: path.join(dir, 'b', 'results.json'), dir };
}

function side(tag: string, file: string): CompareSide {
  const results = loadResultsFile(file);
  const load = perSampleLoaderFor(file);
  return { tag, file, results, load, checks: computeChecks(results, load) };
}

describe('compare view', () => {
  const { a, b, dir } = makePair();
  const A = side('A', a);
  const B = side('B', b);

  it('matches models by id or by name', () => {
    expect(matchModels(A, B, 'id')).toEqual({ pairs: [{ key: BASE, a: BASE, b: BASE }], onlyA: [DEF], onlyB: [`${DEF}-opu16k`] });
    expect(matchModels(A, B, 'name').pairs).toEqual([
      { key: 'baseline', a: BASE, b: BASE },
      { key: 'optical', a: DEF, b: `${DEF}-opu16k` },
    ]);
  });

  it('gives the change per attack and eps, with transfer sources matched through the pairing', () => {
    const rows = compareAttacks(A, B, matchModels(A, B, 'name').pairs[1], 'name');
    const pgd8 = rows.find((r) => r.label === 'PGD (bpda-true gradient)' && Math.abs(r.eps - 0.031373) < 1e-9)!;
    // The strongest PGD at 8/255 through bpda-true is the 200-step run on both sides: 3.0% -> 7.0%.
    expect([pgd8.a!.robustAccuracy, pgd8.b!.robustAccuracy]).toEqual([0.03, 0.07]);
    expect(pgd8.b!.robustAccuracy - pgd8.a!.robustAccuracy).toBeCloseTo(0.04, 12);
    const rays = rows.find((r) => r.a?.attack === 'rays')!;
    expect(rays.b).toBeNull();
    const transfer = rows.filter((r) => r.a?.threat === 'transfer');
    expect(transfer.length).toBe(6);
    for (const t of transfer) expect(t.b).not.toBeNull();
    expect(transfer[0].label).toContain('transfer from baseline');
  });

  it('renders both sides, the changes and the checks of both', () => {
    const html = renderCompare(A, B, { matchBy: 'name' });
    expect(html).toContain('<section id="pair-optical">');
    expect(html).toContain('<section id="pair-baseline">');
    expect(html).toContain('Clean accuracy 76.5% in A, 77.2% in B (+0.7 points).');
    // Worst case at 8/255 in B is an upper bound from aggregates (no per-sample files): 0.5% + 4 = 4.5%.
    expect(html).toMatch(/At eps 8\/255 \(0\.0314\) the per-example worst case goes from 0\.0% \(11 attacks\) to 4\.5% \(10 attacks\), \+4\.5 points\./);
    expect(html).toContain('<td class="num delta up">+4.0</td>');
    expect(html).toContain('<section id="checks">');
    for (const c of [...A.checks, ...B.checks]) expect(html).toContain(`<strong>${c.id}</strong>`);
    expect(html).not.toMatch(/<script/);
  });

  it('UserError when nothing matches or names repeat', () => {
    const lone = JSON.parse(fs.readFileSync(b, 'utf8')) as ResultsFile;
    lone.models = lone.models.filter((m) => m.id !== BASE);
    lone.runs = lone.runs.filter((r) => r.model !== BASE);
    const f = path.join(dir, 'lone.json');
    fs.writeFileSync(f, JSON.stringify(lone));
    expect(() => renderCompare(A, side('B', f), { matchBy: 'id' })).toThrow(/share no model by id .*expected at least one common model, or --match name/);
    const dup = JSON.parse(fs.readFileSync(a, 'utf8')) as ResultsFile;
    dup.models[1].name = 'baseline';
    const g = path.join(dir, 'a', 'dup.json');
    fs.writeFileSync(g, JSON.stringify(dup));
    expect(() => renderCompare(side('A', g), B, { matchBy: 'name' })).toThrow(UserError);
    expect(() => runCompare({ a, b, out: a, log: () => undefined })).toThrow(/is one of the results files/);
  });

  it('opulab report a b --out compare.html [--match name], and bad argument counts are one-line errors', async () => {
    const out = path.join(dir, 'compare.html');
    const errs: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (errs.push(String(s)), true));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await main(['report', a, b, '--out', out, '--match', 'name'])).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toContain('<section id="pair-optical">');
      expect(await main(['report', a, b, '--out', out])).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).not.toContain('<section id="pair-optical">');
      expect(await main(['report', a, b, '--out', out, '--match', 'label'])).toBe(2);
      expect(await main(['report', a, '--out', out, '--match', 'name'])).toBe(2);
      expect(await main(['report', a, b, a, '--out', out])).toBe(2);
    } finally {
      spy.mockRestore();
      log.mockRestore();
    }
    expect(errs.join('')).toMatch(/--match label: expected id or name/);
    expect(errs.join('')).toMatch(/expected two results files to compare, got one/);
    expect(errs.join('')).toMatch(/got 3 results files; expected one \(a report\) or two \(a comparison\)/);
  });
});
