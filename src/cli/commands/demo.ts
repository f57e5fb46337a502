/** `opulab demo`: the main job end to end on the embedded default spec: train, attack, results.json, report.html. */
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, workerCount, withEngineOption, engineOf } from '../options';
import { demoSpec } from '../../experiments/demo-spec';
import { runExperiment } from '../../experiments/runner';
import { environmentInfo } from '../../results/environment';
import { runReport } from './report';
import { printSummary } from './run';
import { formatSeconds } from '../../util/progress';
import { writeFileAtomic } from '../../util/atomic';
import { computeChecks } from '../../../reports/checks';
import { perSampleLoaderFor } from '../../../reports/load';
import { ResultsFile } from '../../results/schema';
import { ExperimentSpec } from '../../experiments/spec';

export interface DemoArgs extends GlobalArgs {
  out: string;
  quick: boolean;
  engine?: string;
}

export const demoCommand: CommandModule<GlobalArgs, DemoArgs> = {
  command: 'demo',
  describe: 'The main job: train a baseline and an optical VGG, attack both (white-box, BPDA, black-box, transfer), write results.json and report.html',
  builder: (y) =>
    withEngineOption(y)
      .option('out', { type: 'string', default: 'opulab-demo', describe: 'Output directory' })
      .option('quick', { type: 'boolean', default: false, describe: 'A much smaller run (a smoke test, about a minute)' }) as never,
  handler: async (args) => {
    const seed = checkSeed(args);
    const engine = engineOf(args);
    const t0 = Date.now();
    const spec = demoSpec(args.quick);
    spec.seed = seed;
    const backend = await initBackend(args.backend);
    const results = await runExperiment(spec, {
      outDir: args.out,
      shard: { index: 0, count: 1 },
      dataDir: args.dataDir,
      download: args.download,
      workers: workerCount(args),
      syntheticFallback: true,
      engine,
      environment: environmentInfo(backend.name, workerCount(args), seed, { command: 'demo', engine }),
    });
    explainDemoScale(results, spec, path.join(args.out, 'results.json'));
    const report = runReport({ results: path.join(args.out, 'results.json'), out: path.join(args.out, 'report.html'), log: () => undefined });
    printSummary(results, args.out);
    process.stdout.write(`report: ${report.out}\ndemo finished in ${formatSeconds((Date.now() - t0) / 1000)}\n`);
  },
};

/**
 * C13 asks every attack used on the defense to break the undefended baseline. At demo size the query-based attacks
 * (Square, HopSkipJump) get a few hundred to a thousand queries per image, far below the budgets they are evaluated
 * with (10^4 and more), and may stop before they converge. When exactly those attacks are what fails C13, the demo
 * says so in the report (environment.scaleNotes, shown with the check) instead of leaving an unexplained failure.
 */
export function explainDemoScale(results: ResultsFile, spec: ExperimentSpec, file: string): void {
  const baseline = new Set(results.models.filter((m) => m.defense === 'none').map((m) => m.id));
  const defended = new Set(results.models.filter((m) => m.defense !== 'none').map((m) => m.id));
  const usedOnDefense = new Set(results.runs.filter((r) => defended.has(r.model) && r.threat !== 'noise' && r.threat !== 'transfer').map((r) => r.attack));
  const weak = results.runs.filter((r) => baseline.has(r.model) && usedOnDefense.has(r.attack) && r.eps > 0 && r.robustAccuracy > 0.5 * r.cleanAccuracy);
  // the strongest run per attack at its largest eps decides, as in C13
  const failing = [...new Set(weak.map((r) => r.attack))].filter((a) => {
    const runs = results.runs.filter((r) => baseline.has(r.model) && r.attack === a);
    const maxEps = Math.max(...runs.map((r) => r.eps));
    return runs.filter((r) => Math.abs(r.eps - maxEps) < 1e-12).every((r) => r.robustAccuracy > 0.5 * r.cleanAccuracy);
  });
  const queryBased = (a: string): boolean => results.runs.some((r) => r.attack === a && (r.threat === 'black-box-score' || r.threat === 'decision'));
  if (failing.length === 0 || !failing.every(queryBased)) return;
  const budget = (a: string): string => {
    const s = spec.attacks.find((x) => a.startsWith(x.label ?? x.attack));
    const q = s?.params?.maxQueries;
    return `${a} ${typeof q === 'number' ? `${q} queries per image` : 'a small query budget'}`;
  };
  results.environment.scaleNotes = {
    C13: `the demo gives the query-based attacks small budgets (${failing.map(budget).join(', ')}) so that it finishes in minutes; published evaluations use 10^4 queries and more, and at this budget ${failing.join(' and ')} can stop before breaking even an undefended model. Rerun with a larger maxQueries (opulab run with your own spec) to make this check meaningful.`,
  };
  results.checks = computeChecks(results, perSampleLoaderFor(file));
  writeFileAtomic(file, JSON.stringify(results, null, 1));
}
