/**
 * `opulab report results.json --out report.html [--recheck] [--title T]`: render the self-contained HTML
 * robustness report. Checks C1–C17 are recomputed when the models or runs changed since results.checks was
 * computed (or it is empty), and always with --recheck.
 * The report is written atomically; the results file is never modified.
 */
import * as path from 'path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { CheckRecord } from '../../results/schema';
import { writeFileAtomic } from '../../util/atomic';
import { UserError } from '../../util/errors';
import { computeChecks, formatCheck } from '../../../reports/checks';
import { renderReport } from '../../../reports/html';
import { loadResultsFile, perSampleLoaderFor } from '../../../reports/load';
import { checksAreCurrent } from '../../results/fingerprint';

export interface ReportArgs {
  results: string;
  out?: string;
  recheck?: boolean;
  title?: string;
}

export interface RunReportOptions {
  results: string;
  /** Default: report.html beside the results file. */
  out?: string;
  recheck?: boolean;
  title?: string;
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
  const perSampleLoader = perSampleLoaderFor(opts.results);
  // the stored checks are used only when they were computed from exactly these models and runs
  const recompute = opts.recheck === true || !checksAreCurrent(results);
  const checks = recompute ? computeChecks(results, perSampleLoader) : results.checks;
  const missing = results.runs.filter((r) => r.perSample && perSampleLoader(r) === null).length;
  if (missing) log(`note: ${missing} run(s) reference per-sample files that are missing; per-example checks use aggregates for them`);
  const html = renderReport(results, { perSampleLoader, checks, ...(opts.title ? { title: opts.title } : {}) });
  writeFileAtomic(out, html);
  log(`checks (${recompute ? 'computed' : 'from results.json'}):`);
  for (const c of checks) log(`  ${formatCheck(c)}`);
  log(`wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB, ${results.runs.length} runs, ${results.models.length} models)`);
  return { out, checks, bytes: Buffer.byteLength(html) };
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <results>',
  describe: 'Render a self-contained HTML robustness report (charts, checks C1-C17, tables) from results.json',
  builder: (y: Argv<object>) =>
    y
      .positional('results', { type: 'string', demandOption: true, describe: 'results.json written by opulab' })
      .option('out', { type: 'string', describe: 'output HTML file (default: report.html beside the results file)' })
      .option('recheck', { type: 'boolean', default: false, describe: 'recompute checks even when results.json carries current ones (they are recomputed anyway when its runs changed)' })
      .option('title', { type: 'string', describe: 'report title' }) as unknown as Argv<ReportArgs>,
  handler: (argv: ArgumentsCamelCase<ReportArgs>): void => {
    runReport({ results: argv.results, out: argv.out, recheck: argv.recheck, title: argv.title });
  },
};
