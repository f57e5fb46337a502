/**
 * `opulab data --dataset cifar10|cifar100|cifar10-mini|synthetic [--data-dir DIR] [--no-download]`:
 * find the dataset (docs/architecture.md §3), download the official archive when files are missing and the
 * network allows, verify checksums, and report files, record counts and per-class counts.
 */
import * as path from 'path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UserError } from '../../util/errors';
import { ArchiveCheck, DownloadOptions } from '../../../datasets/download';
import { ensureDataset } from '../../../datasets/ensure';
import { DatasetInspection, inspectDataset } from '../../../datasets/inspect';
import { perClassCounts } from '../../../datasets/batches';
import { loadDataset, parseDatasetName } from '../../../datasets/load';
import { DATASET_NAMES, DatasetName } from '../../../datasets/types';

export interface DataArgs {
  dataset: string;
  dataDir?: string;
  download?: boolean;
  seed?: number;
}

export interface RunDataOptions {
  dataset: DatasetName;
  dataDir?: string;
  /** Try to download missing files (default true). */
  download?: boolean;
  /** Synthetic only. */
  seed?: number;
  log?: (line: string) => void;
  /** Override the official archive and file checks (tests serve one locally). */
  source?: ArchiveCheck;
  downloadOptions?: DownloadOptions;
}

export interface DataResult {
  dataset: DatasetName;
  dir: string;
  downloaded: boolean;
  train: { records: number; perClass: number[] };
  test: { records: number; perClass: number[] };
  inspection?: DatasetInspection;
}

function formatCounts(counts: number[]): string {
  const distinct = new Set(counts);
  if (distinct.size === 1) return `${counts[0]} each`;
  return `[${counts.join(', ')}]`;
}

function reportInspection(ins: DatasetInspection, log: (line: string) => void): void {
  log(`${ins.name}: ${ins.dir}`);
  for (const f of ins.files) {
    const c = f.checksum;
    const check =
      c.status === 'unknown'
        ? 'no published checksum'
        : c.status === 'ok'
          ? `${c.known?.algorithm} ok`
          : `${c.known?.algorithm} MISMATCH (got ${c.actual}, expected ${c.known?.hex})`;
    log(`  ${path.basename(f.file).padEnd(16)} ${String(f.bytes).padStart(10)} bytes  ${String(f.records).padStart(6)} records  ${check}`);
  }
  for (const note of ins.notes) log(`  note: ${note}`);
  log(`  classes (${ins.classNames.length}): ${ins.classNames.join(', ')}`);
  if (ins.coarseClassNames) log(`  coarse classes (${ins.coarseClassNames.length}): ${ins.coarseClassNames.join(', ')}`);
  log(`  train: ${ins.train.records} records; per class ${formatCounts(ins.train.perClass)}`);
  log(`  test: ${ins.test.records} records; per class ${formatCounts(ins.test.perClass)}`);
}

/** The work of `opulab data`; returns what it found (and prints it through `log`). */
export async function runData(opts: RunDataOptions): Promise<DataResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const name = parseDatasetName(opts.dataset);
  if (name === 'synthetic') {
    const seed = opts.seed ?? 0;
    const train = loadDataset('synthetic', 'train', { seed });
    const test = loadDataset('synthetic', 'test', { seed });
    log(`synthetic: generated in memory (seed ${seed}), classes: ${train.classNames.join(', ')}`);
    log(`  train: ${train.n} records; per class ${formatCounts(perClassCounts(train))}`);
    log(`  test: ${test.n} records; per class ${formatCounts(perClassCounts(test))}`);
    return {
      dataset: name,
      dir: 'synthetic',
      downloaded: false,
      train: { records: train.n, perClass: perClassCounts(train) },
      test: { records: test.n, perClass: perClassCounts(test) },
    };
  }
  const { dir, downloaded } = await ensureDataset(name, { dataDir: opts.dataDir, download: opts.download, log, source: opts.source, downloadOptions: opts.downloadOptions });
  const ins = await inspectDataset(name, dir);
  reportInspection(ins, log);
  const bad = ins.files.find((f) => f.checksum.status === 'mismatch');
  if (bad) {
    throw new UserError(
      `${bad.file}: ${bad.checksum.known?.algorithm} ${bad.checksum.actual} does not match the expected ${bad.checksum.known?.hex} (corrupt copy; delete it and run 'opulab data --dataset ${name}')`,
    );
  }
  const verified = ins.files.filter((f) => f.checksum.status === 'ok').length;
  log(`  checksums: ${verified} of ${ins.files.length} files verified, none mismatched`);
  return { dataset: name, dir, downloaded, train: ins.train, test: ins.test, inspection: ins };
}

export const dataCommand: CommandModule<object, DataArgs> = {
  command: 'data',
  describe: 'Find, download (when online) and verify a dataset; report files, records and per-class counts',
  builder: (y: Argv<object>) =>
    y
      .option('dataset', {
        type: 'string',
        choices: DATASET_NAMES as readonly string[] as string[],
        demandOption: true,
        describe: 'dataset to check',
      }),
  handler: async (argv: ArgumentsCamelCase<DataArgs>): Promise<void> => {
    await runData({
      dataset: parseDatasetName(argv.dataset),
      dataDir: argv.dataDir,
      download: argv.download,
      seed: argv.seed,
    });
  },
};
