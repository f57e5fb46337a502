#!/usr/bin/env node
/**
 * The `opulab` command line (docs/architecture.md §4). Every command has --help, --seed, --backend, --workers
 * and --data-dir. A UserError (bad input) prints one line and exits with code 2. A usage error (unknown option or
 * command, bad choice, missing or non-numeric value) prints one line plus the --help hint, exits with code 2 and
 * runs nothing: yargs validates before any command handler starts (src/cli/strict.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isUserError } from '../util/errors';
import { commands } from './commands';
import { opulabVersion } from '../util/version';
import { UsageError, isYargsError, oneLineUsage, prepareArgv, strictCommand, GLOBAL_VALUE_OPTIONS } from './strict';
import { ALLOW_UNOFFICIAL_ENV } from '../../datasets/verify';

/** Run the CLI in this process: `argv` without the node and script names; resolves to the exit code (0, 1 or 2). */
export async function main(argv: string[]): Promise<number> {
  const args = prepareArgv(argv, commands.map((c) => String(c.command ?? '').split(' ')[0]));
  const parser = yargs(args)
    .scriptName('opulab')
    .usage('$0 <command> [options]\n\nOptical co-processor defense simulator and adversarial attack lab.')
    .option('seed', { type: 'number', default: 0, describe: 'Seed for every random choice (same seed + backend = same numbers)' })
    .option('backend', { type: 'string', default: 'auto', describe: 'Compute backend', choices: ['auto', 'tensorflow', 'wasm', 'cpu'] })
    .option('workers', { type: 'number', describe: 'Worker threads for data-parallel work; `run` also trains up to this many models at once (default: the cores this process may use: its CPU affinity, e.g. what Slurm allots)' })
    .option('data-dir', { type: 'string', describe: 'Dataset folder (else $OPULAB_DATA_DIR, else ~/.cache/opulab)' })
    .option('allow-unofficial-data', {
      type: 'boolean',
      describe: `Read data files that are not the official ones (your own subset; results record it). Same as ${ALLOW_UNOFFICIAL_ENV}=1`,
    })
    .option('download', { type: 'boolean', default: true, describe: 'Download the official CIFAR archive when the data is not found (--no-download forbids it)' })
    // worker threads inherit the environment, so the flag travels as the variable (restored when main returns)
    .middleware((a) => {
      if (a.allowUnofficialData === true) process.env[ALLOW_UNOFFICIAL_ENV] = '1';
    })
    .requiresArg([...GLOBAL_VALUE_OPTIONS])
    .demandCommand(1, `missing command: expected one of ${commands.map((c) => String(c.command ?? '').split(' ')[0]).join(', ')} (opulab --help lists them)`)
    .strict()
    .strictCommands()
    .exitProcess(false)
    .showHelpOnFail(false)
    .help()
    .alias('h', 'help')
    .version(opulabVersion())
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // Throwing here stops yargs before any command handler runs.
      if (err && !isYargsError(err)) throw err;
      throw new UsageError(oneLineUsage(msg ?? err?.message ?? 'usage error', args));
    });
  for (const c of commands) parser.command(strictCommand(c, args));
  const allowBefore = process.env[ALLOW_UNOFFICIAL_ENV];
  try {
    await parser.parseAsync();
  } catch (failure) {
    if (failure instanceof UsageError) {
      process.stderr.write(`opulab: ${failure.message}\nRun 'opulab --help' for usage.\n`);
      return 2;
    }
    if (isUserError(failure)) {
      process.stderr.write(`opulab: ${failure.message}\n`);
      return 2;
    }
    const err = failure as Error;
    process.stderr.write(`opulab: internal error: ${err?.stack ?? String(err)}\n`);
    return 1;
  } finally {
    if (allowBefore === undefined) delete process.env[ALLOW_UNOFFICIAL_ENV];
    else process.env[ALLOW_UNOFFICIAL_ENV] = allowBefore;
  }
  return 0;
}

if (require.main === module) {
  main(hideBin(process.argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`opulab: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
