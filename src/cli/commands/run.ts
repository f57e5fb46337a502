/** `opulab run SPEC.json --out DIR [--shard i/N] [--check]` and `opulab merge DIR... --out DIR`. */
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, workerCount, withEngineOption, engineOf } from '../options';
import { readSpecFile } from '../../experiments/spec';
import { runExperiment, mergeRuns, parseShard } from '../../experiments/runner';
import { environmentInfo } from '../../results/environment';
import { planLines } from '../../experiments/plan';
import { ResultsFile } from '../../results/schema';

export interface RunArgs extends GlobalArgs {
  spec: string;
  out: string;
  shard?: string;
  check: boolean;
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
      .option('shard', { type: 'string', describe: 'Run only shard i of N (i/N, 0-based); join shards with opulab merge' })
      .option('check', { type: 'boolean', default: false, describe: 'Only validate the whole spec and print the plan, with where a stopped run in --out stands (no data read, nothing trained or written)' }) as never,
  handler: async (args) => {
    checkSeed(args);
    // plugin files are loaded and trial-run while the inputs are checked: that needs a ready backend (quiet: no line yet)
    await initBackend(args.backend, true);
    // The spec's own seed governs the experiment (so a spec file fully describes its numbers).
    const spec = readSpecFile(args.spec);
    const shard = parseShard(args.shard);
    if (args.check) {
      process.stdout.write(planLines(spec, args.spec, args.out, shard).join('\n') + '\n');
      return;
    }
    const engine = engineOf(args);
    const backend = await initBackend(args.backend);
    const results = await runExperiment(spec, {
      outDir: args.out,
      shard,
      dataDir: args.dataDir,
      download: args.download,
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
