/**
 * The common in-memory dataset shape every reader produces (docs/architecture.md §3).
 *
 * Images are uint8 in NHWC order (the CIFAR files store R, G, B planes; readers convert). Batching turns
 * them into float32 pixels in [0, 1]; the normalization below is applied later, inside the classifier.
 */

export type DatasetName = 'cifar10' | 'cifar10-mini' | 'cifar100' | 'synthetic';
export const DATASET_NAMES: readonly DatasetName[] = ['cifar10', 'cifar10-mini', 'cifar100', 'synthetic'];

export type Split = 'train' | 'test';
export const SPLITS: readonly Split[] = ['train', 'test'];

/** Per-channel input normalization, in [0, 1] pixel units: x_norm = (x - mean) / std. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export interface Dataset {
  name: DatasetName;
  numClasses: number;
  classNames: string[];
  /** Number of examples. */
  n: number;
  height: number;
  width: number;
  channels: number;
  /** n * height * width * channels bytes, NHWC. */
  images: Uint8Array;
  /** n labels in [0, numClasses). For CIFAR-100 these are the fine labels. */
  labels: Int32Array;
  /** CIFAR-100 only: the 20-way coarse labels. */
  coarseLabels?: Int32Array;
  /** The directory the files were read from, or 'synthetic'. */
  source: string;
  normalization: Normalization;
  /** Whether the files read are the official ones (see datasets/verify.ts). */
  provenance?: DataProvenance;
}

/** One data file read, as verified against the known sizes and checksums. */
export interface FileProvenance {
  file: string;
  bytes: number;
  /** 'official': the published file; 'official-prefix': opulab's verified copy of its first records; 'unofficial': neither. */
  status: 'official' | 'official-prefix' | 'unofficial';
  md5?: string;
  sha256?: string;
}

/** What the data of a run was: recorded in results.json (environment.data). */
export interface DataProvenance {
  /** The weakest status of the files read ('synthetic' for the generated set). */
  status: 'official' | 'official-prefix' | 'unofficial' | 'synthetic';
  /** True only when every file read is the official one. */
  official: boolean;
  files: FileProvenance[];
}

export interface LoadOptions {
  /** A data dir (see resolveDataRoot); default $OPULAB_DATA_DIR, then ~/.cache/opulab. */
  dataDir?: string;
  /** Keep only the first `limit` records (synthetic: the number of examples to generate). */
  limit?: number;
  /** Synthetic only: generator seed (default 0). */
  seed?: number;
  /** Read files that are not the official ones (default: $OPULAB_ALLOW_UNOFFICIAL_DATA); see datasets/verify.ts. */
  allowUnofficial?: boolean;
}

/**
 * Normalization per dataset (docs/method.md §1): the reference code normalizes CIFAR-10 with mean 0.5 /
 * std 0.5 (inputs in [-1, 1]) and CIFAR-100 with its train statistics.
 */
export const NORMALIZATION: Readonly<Record<DatasetName, Normalization>> = {
  cifar10: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  'cifar10-mini': { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  cifar100: { mean: [0.507, 0.486, 0.44], std: [0.267, 0.256, 0.276] },
  synthetic: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
};

/** Copy of a dataset's normalization (callers may store or mutate it). */
export function normalizationFor(name: DatasetName): Normalization {
  const n = NORMALIZATION[name];
  return { mean: [...n.mean], std: [...n.std] };
}
