/**
 * Where the CIFAR files live (docs/architecture.md §3): the data dir is `dataDir` (--data-dir), else
 * $OPULAB_DATA_DIR, else ~/.cache/opulab. A data dir is either the folder holding the binary files or a
 * parent holding the official folder names (cifar-10-batches-bin/, cifar-100-binary/, and opulab's
 * cifar-10-mini/).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UserError } from '../src/util/errors';
import { CIFAR10_FORMAT, CIFAR100_FORMAT, CifarFormat } from './cifar-binary';
import { DatasetName } from './types';

export type CifarName = Exclude<DatasetName, 'synthetic'>;

export interface CifarLayout {
  name: CifarName;
  /** Official folder name inside a parent data dir. */
  folder: string;
  format: CifarFormat;
  /** Train files in reading order; for alternatives see `trainFiles`. */
  trainCandidates: string[];
  testFile: string;
  classNamesFile: string;
  coarseNamesFile?: string;
}

const CIFAR10_BATCHES = [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`);

export const CIFAR_LAYOUTS: Readonly<Record<CifarName, CifarLayout>> = {
  cifar10: {
    name: 'cifar10',
    folder: 'cifar-10-batches-bin',
    format: CIFAR10_FORMAT,
    trainCandidates: CIFAR10_BATCHES,
    testFile: 'test_batch.bin',
    classNamesFile: 'batches.meta.txt',
  },
  'cifar10-mini': {
    name: 'cifar10-mini',
    folder: 'cifar-10-mini',
    format: CIFAR10_FORMAT,
    trainCandidates: CIFAR10_BATCHES,
    testFile: 'test_batch.bin',
    classNamesFile: 'batches.meta.txt',
  },
  cifar100: {
    name: 'cifar100',
    folder: 'cifar-100-binary',
    format: CIFAR100_FORMAT,
    // train.bin is the official file; train-10k.bin (its first 10000 records) is accepted when it is absent.
    trainCandidates: ['train.bin', 'train-10k.bin'],
    testFile: 'test.bin',
    classNamesFile: 'fine_label_names.txt',
    coarseNamesFile: 'coarse_label_names.txt',
  },
};

export type DataRootOrigin = '--data-dir' | '$OPULAB_DATA_DIR' | 'default ~/.cache/opulab';

export interface DataRoot {
  dir: string;
  origin: DataRootOrigin;
}

/** The default data dir when neither --data-dir nor $OPULAB_DATA_DIR is given. */
export function defaultDataDir(): string {
  // $HOME first (what ~ means in a shell; also honoured when set at run time), else the OS's idea of home
  return path.join(process.env.HOME || os.homedir(), '.cache', 'opulab');
}

/** The data dir to use: explicit `dataDir`, then $OPULAB_DATA_DIR, then ~/.cache/opulab (absolute path). */
export function resolveDataRoot(dataDir?: string): DataRoot {
  if (dataDir !== undefined && dataDir !== '') return { dir: path.resolve(dataDir), origin: '--data-dir' };
  const env = process.env.OPULAB_DATA_DIR;
  if (env !== undefined && env !== '') return { dir: path.resolve(env), origin: '$OPULAB_DATA_DIR' };
  return { dir: defaultDataDir(), origin: 'default ~/.cache/opulab' };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The folder holding `name`'s files under `root`, or null. A folder holds a dataset when its test file is
 * there; the official sub-folder is preferred over the root itself.
 */
export function datasetDirIn(name: CifarName, root: string): string | null {
  const layout = CIFAR_LAYOUTS[name];
  const sub = path.join(root, layout.folder);
  if (isDir(sub) && isFile(path.join(sub, layout.testFile))) return sub;
  if (isFile(path.join(root, layout.testFile))) return root;
  return null;
}

/** The dataset folder, or null when not found (for callers that fall back to the synthetic set). */
export function findDatasetDir(name: CifarName, dataDir?: string): string | null {
  return datasetDirIn(name, resolveDataRoot(dataDir).dir);
}

/** The dataset folder; UserError saying where it looked and how to get the files. */
export function locateDatasetDir(name: CifarName, dataDir?: string): string {
  const root = resolveDataRoot(dataDir);
  const found = datasetDirIn(name, root.dir);
  if (found) return found;
  const layout = CIFAR_LAYOUTS[name];
  const where = isDir(root.dir) ? root.dir : `${root.dir} (does not exist)`;
  throw new UserError(
    `${name} not found in data dir ${where} (${root.origin}): expected ${layout.testFile} there or in ${layout.folder}/; run 'opulab data --dataset ${name}' or point --data-dir / OPULAB_DATA_DIR at the files`,
  );
}

/** The train files of a dataset folder, in reading order (missing ones are reported by the reader). */
export function trainFiles(name: CifarName, dir: string): string[] {
  const layout = CIFAR_LAYOUTS[name];
  const all = layout.trainCandidates.map((f) => path.join(dir, f));
  switch (name) {
    case 'cifar10':
      return all; // all five batches are required
    case 'cifar10-mini': {
      const present = all.filter(isFile);
      return present.length > 0 ? present : [all[0]];
    }
    case 'cifar100': {
      const first = all.find(isFile);
      return [first ?? all[0]];
    }
  }
}

export function testFile(name: CifarName, dir: string): string {
  return path.join(dir, CIFAR_LAYOUTS[name].testFile);
}
