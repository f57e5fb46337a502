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
    const report = runReport({ results: path.join(args.out, 'results.json'), out: path.join(args.out, 'report.html'), log: () => undefined });
    printSummary(results, args.out);
    process.stdout.write(`report: ${report.out}\ndemo finished in ${formatSeconds((Date.now() - t0) / 1000)}\n`);
  },
};
