/** opulab datasets: CIFAR-10/100 binary readers, data-dir resolution, synthetic set, batching, download. */
export * from './types';
export { loadDataset, loadSplits, describeDatasets, parseDatasetName, isDatasetName, splitFiles } from './load';
export type { DatasetInfo, SplitsRequest } from './load';
export { iterateBatches, takeTensors, perClassCounts } from './batches';
export type { Batch, BatchOptions } from './batches';
export { augmentImage, defaultAugmentation } from './augment';
export type { AugmentOptions } from './augment';
export { generateSynthetic, SYNTHETIC_CLASS_NAMES } from './synthetic';
export {
  resolveDataRoot,
  defaultDataDir,
  findDatasetDir,
  locateDatasetDir,
  datasetDirIn,
  CIFAR_LAYOUTS,
} from './locate';
export type { CifarName, DataRoot } from './locate';
export { CIFAR10_FORMAT, CIFAR100_FORMAT, readCifarFile, readCifarFiles, readCifarLabels, planesToNhwc } from './cifar-binary';
export type { CifarFormat, CifarRecords } from './cifar-binary';
export { OFFICIAL_ARCHIVES, KNOWN_FILE_CHECKSUMS, hashFile } from './checksums';
export type { ArchiveSpec, KnownChecksum } from './checksums';
export { installArchive, downloadToBuffer, makeMiniFromCifar10, UnreachableError } from './download';
export type { ArchiveCheck, DownloadOptions } from './download';
export { ensureDataset, prepareDataset, datasetPresent, officialArchiveCheck, OfflineError } from './ensure';
export type { EnsureOptions, PrepareOptions } from './ensure';
export {
  verifyDataFiles,
  unofficialDataAllowed,
  opulabCacheDir,
  verificationCacheFile,
  combineProvenance,
  ALLOW_UNOFFICIAL_ENV,
} from './verify';
export { inspectDataset, missingFiles, requiredFiles } from './inspect';
export type { DatasetInspection, FileCheck } from './inspect';
export { readTar, extractTar } from './tar';
