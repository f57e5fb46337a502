/**
 * One entry point for every dataset: loadDataset(name, split, opts) -> Dataset (NHWC uint8 + int32 labels).
 */
import * as path from 'path';
import { UserError } from '../src/util/errors';
import { IMAGE_CHANNELS, IMAGE_SIZE, readCifarFiles, readClassNames } from './cifar-binary';
import { CIFAR_LAYOUTS, CifarName, locateDatasetDir, testFile, trainFiles } from './locate';
import { generateSynthetic, SYNTHETIC_DEFAULT_SIZE } from './synthetic';
import { verifyDataFiles } from './verify';
import { Dataset, DATASET_NAMES, DatasetName, LoadOptions, normalizationFor, Split, SPLITS } from './types';

export function isDatasetName(s: string): s is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(s);
}

/** Narrow a user-supplied name; UserError listing the valid names otherwise. */
export function parseDatasetName(s: string): DatasetName {
  if (!isDatasetName(s)) throw new UserError(`unknown dataset '${s}': expected one of ${DATASET_NAMES.join(', ')}`);
  return s;
}

function checkSplit(split: string): asserts split is Split {
  if (!(SPLITS as readonly string[]).includes(split)) {
    throw new UserError(`unknown split '${split}': expected one of ${SPLITS.join(', ')}`);
  }
}

function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new UserError(`limit ${limit} is not valid: expected a positive integer`);
  }
}

/** The files a split of a CIFAR dataset is read from, given the dataset folder. */
export function splitFiles(name: CifarName, split: Split, dir: string): string[] {
  return split === 'train' ? trainFiles(name, dir) : [testFile(name, dir)];
}

function loadCifar(name: CifarName, split: Split, opts: LoadOptions): Dataset {
  const dir = locateDatasetDir(name, opts.dataDir);
  const layout = CIFAR_LAYOUTS[name];
  const classNames = readClassNames(path.join(dir, layout.classNamesFile), layout.format.numClasses);
  const files = splitFiles(name, split, dir);
  // size + checksum of every file before it is read (cached; one-line error for a wrong file)
  const provenance = verifyDataFiles(name, files, { allowUnofficial: opts.allowUnofficial });
  const rec = readCifarFiles(files, layout.format, opts.limit);
  return {
    name,
    numClasses: layout.format.numClasses,
    classNames,
    n: rec.n,
    height: IMAGE_SIZE,
    width: IMAGE_SIZE,
    channels: IMAGE_CHANNELS,
    images: rec.images,
    labels: rec.labels,
    ...(rec.coarseLabels ? { coarseLabels: rec.coarseLabels } : {}),
    source: dir,
    normalization: normalizationFor(name),
    provenance,
  };
}

/**
 * Load a split. CIFAR sets come from the data dir (opts.dataDir, $OPULAB_DATA_DIR, ~/.cache/opulab);
 * `limit` keeps the first N records and reads only their bytes. The synthetic set is generated from
 * `seed` (default 0) with `limit` examples (default 5000 train / 1000 test).
 */
export function loadDataset(name: DatasetName, split: Split, opts: LoadOptions = {}): Dataset {
  parseDatasetName(name);
  checkSplit(split);
  checkLimit(opts.limit);
  if (name === 'synthetic') {
    return generateSynthetic({ n: opts.limit ?? SYNTHETIC_DEFAULT_SIZE[split], seed: opts.seed ?? 0, split });
  }
  return loadCifar(name, split, opts);
}

export interface DatasetInfo {
  name: DatasetName;
  numClasses: number;
  description: string;
}

/** One line per dataset, for `opulab list`. */
export function describeDatasets(): DatasetInfo[] {
  return [
    {
      name: 'cifar10',
      numClasses: 10,
      description: `CIFAR-10, official binary files (${CIFAR_LAYOUTS.cifar10.folder}/): 50000 train / 10000 test, 32x32x3`,
    },
    {
      name: 'cifar10-mini',
      numClasses: 10,
      description: `CIFAR-10 prefix for fast tests (${CIFAR_LAYOUTS['cifar10-mini'].folder}/): first 1000 train / 500 test records`,
    },
    {
      name: 'cifar100',
      numClasses: 100,
      description: `CIFAR-100, official binary files (${CIFAR_LAYOUTS.cifar100.folder}/): 50000 train (or train-10k.bin) / 10000 test, 100 fine + 20 coarse labels`,
    },
    {
      name: 'synthetic',
      numClasses: 10,
      description: `procedural 10-class 32x32x3 patterns (seeded, offline; default ${SYNTHETIC_DEFAULT_SIZE.train} train / ${SYNTHETIC_DEFAULT_SIZE.test} test)`,
    },
  ];
}

/** The training and test splits an experiment reads: structured-cloneable, so a worker thread loads the same data. */
export interface SplitsRequest {
  name: DatasetName;
  dataDir?: string;
  seed: number;
  trainLimit?: number;
  testLimit?: number;
}

export function loadSplits(r: SplitsRequest): { train: Dataset; test: Dataset } {
  return {
    train: loadDataset(r.name, 'train', { dataDir: r.dataDir, limit: r.trainLimit, seed: r.seed }),
    test: loadDataset(r.name, 'test', { dataDir: r.dataDir, limit: r.testLimit, seed: r.seed }),
  };
}
