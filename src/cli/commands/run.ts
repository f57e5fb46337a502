/** `opulab run SPEC.json --out DIR [--shard i/N]` and `opulab merge DIR... --out DIR`. */
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, workerCount, withEngineOption, engineOf } from '../options';
import { readSpecFile } from '../../experiments/spec';
import { runExperiment, mergeRuns, parseShard } from '../../experiments/runner';
import { environmentInfo } from '../../results/environment';
import { ResultsFile } from '../../results/schema';

export interface RunArgs extends GlobalArgs {
  spec: string;
  out: string;
  shard?: string;
  engine?: string;
}

export function printSummary(results: ResultsFile, outDir: string): void {
  const lines: string[] = [];
  for (const m of results.models) lines.push(`model ${m.id}: clean accuracy ${(100 * m.cleanAccuracy).toFixed(1)}% (n=${m.n})`);
  const counts = { pass: 0, warn: 0, fail: 0, skipped: 0 };
  for (const c of results.checks) counts[c.status]++;
  lines.push(`${results.runs.length} runs; checks: ${counts.pass} pass, ${counts.warn} warn, ${counts.fail} fail, ${counts.skipped} skipped`);
  lines.push(`results: ${path.join(outDir, 'results.json')}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <spec>',
  describe: 'Run an experiment grid from a spec file (resumable; --shard i/N runs a share)',
  builder: (y) =>
    withEngineOption(y)
      .positional('spec', { type: 'string', demandOption: true, describe: 'Experiment spec (JSON), e.g. examples/quick.json' })
      .option('out', { type: 'string', demandOption: true, describe: 'Output directory (checkpoints, journal, results.json)' })
      .option('shard', { type: 'string', describe: 'Run only shard i of N (i/N, 0-based); join shards with opulab merge' }) as never,
  handler: async (args) => {
    checkSeed(args);
    // The spec's own seed governs the experiment (so a spec file fully describes its numbers).
    const spec = readSpecFile(args.spec);
    const shard = parseShard(args.shard);
    const engine = engineOf(args);
    const backend = await initBackend(args.backend);
    const results = await runExperiment(spec, {
      outDir: args.out,
      shard,
      dataDir: args.dataDir,
      workers: workerCount(args),
      engine,
      environment: environmentInfo(backend.name, workerCount(args), spec.seed, { specFile: path.resolve(args.spec), engine }),
    });
    printSummary(results, args.out);
  },
};

export interface MergeArgs extends GlobalArgs {
  dirs: string[];
  out: string;
}

export const mergeCommand: CommandModule<GlobalArgs, MergeArgs> = {
  command: 'merge <dirs..>',
  describe: 'Join the results of several shard directories into one results.json',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'Shard output directories' })
      .option('out', { type: 'string', demandOption: true, describe: 'Merged output directory' }) as never,
  handler: (args) => {
    const results = mergeRuns(args.dirs, args.out);
    printSummary(results, args.out);
  },
};
