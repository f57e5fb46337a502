/**
 * What a CIFAR folder holds, for `opulab data`: which files are missing, and per file its size, record
 * count, per-class label counts and checksum status against the published values.
 */
import * as fs from 'fs';
import * as path from 'path';
import { hashFile, KNOWN_FILE_CHECKSUMS, KnownChecksum } from './checksums';
import { countRecords, readCifarLabels, readClassNames } from './cifar-binary';
import { CIFAR_LAYOUTS, CifarName, testFile, trainFiles } from './locate';
import { Split } from './types';

function exists(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Every file a complete copy of the dataset needs in `dir` (train files after alternatives are applied). */
export function requiredFiles(name: CifarName, dir: string): string[] {
  const layout = CIFAR_LAYOUTS[name];
  const files = [...trainFiles(name, dir), testFile(name, dir), path.join(dir, layout.classNamesFile)];
  if (layout.coarseNamesFile) files.push(path.join(dir, layout.coarseNamesFile));
  return files;
}

/** The required files that are absent (all of them when `dir` is null, listed under `fallbackDir`). */
export function missingFiles(name: CifarName, dir: string | null, fallbackDir: string): string[] {
  const d = dir ?? path.join(fallbackDir, CIFAR_LAYOUTS[name].folder);
  return requiredFiles(name, d).filter((f) => !exists(f));
}

export type ChecksumStatus = 'ok' | 'mismatch' | 'unknown';

export interface FileCheck {
  file: string;
  split: Split;
  bytes: number;
  records: number;
  /** Label counts per (fine) class. */
  perClass: number[];
  checksum: { status: ChecksumStatus; known?: KnownChecksum; actual?: string };
}

export interface SplitSummary {
  records: number;
  perClass: number[];
}

export interface DatasetInspection {
  name: CifarName;
  dir: string;
  classNames: string[];
  coarseClassNames?: string[];
  files: FileCheck[];
  train: SplitSummary;
  test: SplitSummary;
  /** Remarks such as "train.bin absent; using train-10k.bin". */
  notes: string[];
}

async function checkFile(name: CifarName, file: string, split: Split): Promise<FileCheck> {
  const layout = CIFAR_LAYOUTS[name];
  const records = countRecords(file, layout.format);
  const { labels } = readCifarLabels(file, layout.format);
  const perClass = new Array<number>(layout.format.numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) perClass[labels[i]]++;
  const known = KNOWN_FILE_CHECKSUMS[name][path.basename(file)];
  let checksum: FileCheck['checksum'] = { status: 'unknown' };
  if (known) {
    const actual = await hashFile(file, known.algorithm);
    checksum = { status: actual === known.hex ? 'ok' : 'mismatch', known, actual };
  }
  return { file, split, bytes: fs.statSync(file).size, records, perClass, checksum };
}

function sumSplit(files: FileCheck[], split: Split, numClasses: number): SplitSummary {
  const perClass = new Array<number>(numClasses).fill(0);
  let records = 0;
  for (const f of files.filter((x) => x.split === split)) {
    records += f.records;
    f.perClass.forEach((c, k) => (perClass[k] += c));
  }
  return { records, perClass };
}

/** Inspect a dataset folder whose required files exist (see missingFiles). UserError on bad files. */
export async function inspectDataset(name: CifarName, dir: string): Promise<DatasetInspection> {
  const layout = CIFAR_LAYOUTS[name];
  const notes: string[] = [];
  const train = trainFiles(name, dir);
  if (name === 'cifar100' && path.basename(train[0]) !== 'train.bin') {
    notes.push(`train.bin absent: using ${path.basename(train[0])} (a prefix of the official train set)`);
  }
  const files: FileCheck[] = [];
  for (const f of train) files.push(await checkFile(name, f, 'train'));
  files.push(await checkFile(name, testFile(name, dir), 'test'));
  const classNames = readClassNames(path.join(dir, layout.classNamesFile), layout.format.numClasses);
  const coarseClassNames = layout.coarseNamesFile
    ? readClassNames(path.join(dir, layout.coarseNamesFile), layout.format.numCoarseClasses ?? 0)
    : undefined;
  return {
    name,
    dir,
    classNames,
    ...(coarseClassNames ? { coarseClassNames } : {}),
    files,
    train: sumSplit(files, 'train', layout.format.numClasses),
    test: sumSplit(files, 'test', layout.format.numClasses),
    notes,
  };
}
