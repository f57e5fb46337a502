/**
 * `opulab report results.json --out report.html [--recheck] [--title T]`: render the self-contained HTML
 * robustness report. Checks C1–C17 are recomputed when the models or runs changed since results.checks was
 * computed (or it is empty), and always with --recheck.
 * `--markdown FILE` also writes the report's tables as Markdown (reports/markdown.ts) for a write-up beside the results;
 * `--claims` adds the verdicts on the paper's five claims to both (reports/claims.ts).
 * `opulab report a/results.json b/results.json --out compare.html [--match id|name]` puts two runs side by
 * side instead. Reports are written atomically; the results files are never modified.
 */
import * as path from 'path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { CheckRecord } from '../../results/schema';
import { writeFileAtomic } from '../../util/atomic';
import { UserError } from '../../util/errors';
import { computeChecks, formatCheck } from '../../../reports/checks';
import { renderCompare, type MatchBy } from '../../../reports/compare';
import { renderReport } from '../../../reports/html';
import { renderMarkdown } from '../../../reports/markdown';
import { REPRODUCTION_MODELS } from '../../../reports/claims';
import { loadResultsFile, perSampleLoaderFor } from '../../../reports/load';
import { checksAreCurrent } from '../../results/fingerprint';

export interface ReportArgs {
  results: string[];
  out?: string;
  recheck?: boolean;
  title?: string;
  match?: string;
  markdown?: string;
  claims?: boolean;
}

export interface RunReportOptions {
  results: string;
  /** Default: report.html beside the results file. */
  out?: string;
  recheck?: boolean;
  title?: string;
  /** Also write the tables as Markdown here. */
  markdown?: string;
  /** Add the verdicts on the paper's five claims to the report and the Markdown (reports/claims.ts, the reproduction's model names). */
  claims?: boolean;
  log?: (line: string) => void;
}

export interface ReportOutcome {
  out: string;
  checks: CheckRecord[];
  bytes: number;
}

/** Load, check and render; returns where the report went and the checks it shows. */
export function runReport(opts: RunReportOptions): ReportOutcome {
  const log = opts.log ?? ((line: string) => console.log(line));
  const results = loadResultsFile(opts.results);
  const out = opts.out ?? path.join(path.dirname(opts.results), 'report.html');
  if (path.resolve(out) === path.resolve(opts.results)) {
    throw new UserError(`--out ${out} is the results file itself; expected a different path such as report.html`);
  }
  if (opts.markdown !== undefined && [opts.results, out].some((f) => path.resolve(f) === path.resolve(opts.markdown as string))) {
    throw new UserError(`--markdown ${opts.markdown} is the results file or the report; expected a different path such as tables.md`);
  }
  const perSampleLoader = perSampleLoaderFor(opts.results);
  // the stored checks are used only when they were computed from exactly these models and runs
  const recompute = opts.recheck === true || !checksAreCurrent(results);
  const checks = recompute ? computeChecks(results, perSampleLoader) : results.checks;
  const missing = results.runs.filter((r) => r.perSample && perSampleLoader(r) === null).length;
  if (missing) log(`note: ${missing} run(s) reference per-sample files that are missing; per-example checks use aggregates for them`);
  const claims = opts.claims ? { claims: REPRODUCTION_MODELS } : {};
  const html = renderReport(results, { perSampleLoader, checks, ...(opts.title ? { title: opts.title } : {}), ...claims });
  writeFileAtomic(out, html);
  if (opts.markdown !== undefined) {
    const md = renderMarkdown(results, { perSampleLoader, checks, ...(opts.title ? { title: opts.title } : {}), ...claims });
    writeFileAtomic(opts.markdown, md);
    log(`wrote ${opts.markdown} (${(Buffer.byteLength(md) / 1024).toFixed(0)} KiB of Markdown tables)`);
  }
  log(`checks (${recompute ? 'computed' : 'from results.json'}):`);
  for (const c of checks) log(`  ${formatCheck(c)}`);
  log(`wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB, ${results.runs.length} runs, ${results.models.length} models)`);
  return { out, checks, bytes: Buffer.byteLength(html) };
}

export interface RunCompareOptions {
  a: string;
  b: string;
  /** Default: compare.html beside the second results file. */
  out?: string;
  matchBy?: MatchBy;
  recheck?: boolean;
  title?: string;
  log?: (line: string) => void;
}

/** Load both results files (checks as in runReport), match their models and write the compare page. */
export function runCompare(opts: RunCompareOptions): ReportOutcome & { pairs: number } {
  const log = opts.log ?? ((line: string) => console.log(line));
  const out = opts.out ?? path.join(path.dirname(opts.b), 'compare.html');
  for (const f of [opts.a, opts.b]) {
    if (path.resolve(out) === path.resolve(f)) throw new UserError(`--out ${out} is one of the results files; expected a different path such as compare.html`);
  }
  const side = (tag: string, file: string) => {
    const results = loadResultsFile(file);
    const load = perSampleLoaderFor(file);
    const checks = opts.recheck === true || !checksAreCurrent(results) ? computeChecks(results, load) : results.checks;
    return { tag, file, results, load, checks };
  };
  const a = side('A', opts.a);
  const b = side('B', opts.b);
  const matchBy = opts.matchBy ?? 'id';
  const html = renderCompare(a, b, { matchBy, ...(opts.title ? { title: opts.title } : {}) });
  writeFileAtomic(out, html);
  const pairs = (html.match(/<section id="pair-/g) ?? []).length;
  log(`wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB): ${pairs} model(s) matched by ${matchBy}; A ${a.results.runs.length} runs, B ${b.results.runs.length} runs`);
  return { out, checks: [...a.checks, ...b.checks], bytes: Buffer.byteLength(html), pairs };
}

function parseMatch(v: string | undefined): MatchBy | undefined {
  if (v === undefined) return undefined;
  if (v === 'id' || v === 'name') return v;
  throw new UserError(`--match ${v}: expected id or name`);
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <results..>',
  describe: 'Render a self-contained HTML robustness report (charts, checks C1-C17, tables) from results.json; with two results files, a side-by-side comparison',
  builder: (y: Argv<object>) =>
    y
      .positional('results', { type: 'string', array: true, demandOption: true, default: undefined, describe: 'results.json written by opulab; give two (A then B) to compare them' })
      .option('out', { type: 'string', describe: 'output HTML file (default: report.html beside the results file; compare.html beside the second one when comparing)' })
      .option('recheck', { type: 'boolean', default: false, describe: 'recompute checks even when results.json carries current ones (they are recomputed anyway when its runs changed)' })
      .option('match', { type: 'string', describe: 'comparing two files: match models by id (default) or by spec name' })
      .option('title', { type: 'string', describe: 'report title' })
      .option('markdown', { type: 'string', describe: "also write the report's tables (headline worst case, models, white-box, black-box, transfer, ablation, checks) as Markdown to this file" })
      .option('claims', {
        type: 'boolean',
        default: false,
        describe: "add the verdicts on the paper's five claims by fixed decision rules to the report (and the Markdown), finding the models by the reproduction spec's names (baseline, optical, optical-physical, dfa-only)",
      }) as unknown as Argv<ReportArgs>,
  handler: (argv: ArgumentsCamelCase<ReportArgs>): void => {
    const files = argv.results.map(String);
    const matchBy = parseMatch(argv.match);
    if (files.length === 2) {
      if (argv.markdown !== undefined) throw new UserError(`--markdown ${argv.markdown}: expected one results file (a report), got two (a comparison)`);
      if (argv.claims) throw new UserError('--claims: expected one results file (a report), got two (a comparison)');
      runCompare({ a: files[0], b: files[1], out: argv.out, matchBy, recheck: argv.recheck, title: argv.title });
      return;
    }
    if (files.length !== 1) throw new UserError(`report: got ${files.length} results files; expected one (a report) or two (a comparison)`);
    if (matchBy !== undefined) throw new UserError(`--match ${matchBy}: expected two results files to compare, got one`);
    runReport({ results: files[0], out: argv.out, recheck: argv.recheck, title: argv.title, markdown: argv.markdown, claims: argv.claims });
  },
};
