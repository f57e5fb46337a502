#!/usr/bin/env node
/**
 * The `opulab` command line (DESIGN.md "CLI contract"). Every command has --help, --seed, --backend, --workers
 * and --data-dir. A UserError (bad input) prints one line and exits with code 2.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isUserError } from '../util/errors';
import { commands } from './commands';
import { opulabVersion } from '../util/version';
import { ALLOW_UNOFFICIAL_ENV } from '../../datasets/verify';

export async function main(argv: string[]): Promise<number> {
  let failure: unknown = null;
  const parser = yargs(argv)
    .scriptName('opulab')
    .usage('$0 <command> [options]\n\nOptical co-processor defense simulator and adversarial attack lab.')
    .option('seed', { type: 'number', default: 0, describe: 'Seed for every random choice (same seed + backend = same numbers)' })
    .option('backend', { type: 'string', default: 'auto', describe: 'Compute backend', choices: ['auto', 'tensorflow', 'wasm', 'cpu'] })
    .option('workers', { type: 'number', describe: 'Worker threads for data-parallel work (default: number of cores)' })
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
    .demandCommand(1, 'Choose a command (see the list above).')
    .strict()
    .recommendCommands()
    .exitProcess(false)
    .help()
    .alias('h', 'help')
    .version(opulabVersion())
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err, y) => {
      if (err) {
        failure = err;
        return;
      }
      process.stderr.write(`opulab: ${msg}\nRun 'opulab --help' for usage.\n`);
      failure = new UsageError(msg);
      void y;
    });
  for (const c of commands) parser.command(c);
  const allowBefore = process.env[ALLOW_UNOFFICIAL_ENV];
  try {
    await parser.parseAsync();
  } catch (e) {
    failure = failure ?? e;
  } finally {
    if (allowBefore === undefined) delete process.env[ALLOW_UNOFFICIAL_ENV];
    else process.env[ALLOW_UNOFFICIAL_ENV] = allowBefore;
  }
  if (failure) {
    if (failure instanceof UsageError) return 2;
    if (isUserError(failure)) {
      process.stderr.write(`opulab: ${failure.message}\n`);
      return 2;
    }
    const err = failure as Error;
    process.stderr.write(`opulab: internal error: ${err.stack ?? String(err)}\n`);
    return 1;
  }
  return 0;
}

class UsageError extends Error {}

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
