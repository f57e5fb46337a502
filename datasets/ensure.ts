/**
 * Make a CIFAR dataset available before a command reads it: when its files are not in the data dir, download
 * and verify the official archive (or, for cifar10-mini, cut it from a full CIFAR-10 copy), unless downloads
 * are forbidden (--no-download). Offline, the error says so in one line (UnreachableError underneath), and the
 * demo falls back to the synthetic set.
 */
import * as path from 'path';
import { UserError } from '../src/util/errors';
import { KNOWN_FILE_CHECKSUMS, OFFICIAL_ARCHIVES } from './checksums';
import { ArchiveCheck, DownloadOptions, installArchive, makeMiniFromCifar10, UnreachableError } from './download';
import { missingFiles } from './inspect';
import { CIFAR_LAYOUTS, CifarName, datasetDirIn, resolveDataRoot } from './locate';

/** The archive to download for a dataset and the checks its files must pass (null: no download source). */
export function officialArchiveCheck(name: CifarName): ArchiveCheck | null {
  const archive = OFFICIAL_ARCHIVES[name];
  return archive ? { archive, files: KNOWN_FILE_CHECKSUMS[name] } : null;
}

/** The dataset could not be downloaded because the server could not be reached (offline?). */
export class OfflineError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'OfflineError';
  }
}

export interface EnsureOptions {
  dataDir?: string;
  /** Download missing files (default true); false is --no-download. */
  download?: boolean;
  log?: (line: string) => void;
  /** The archive and file checks (default: the official ones). Tests serve their own from 127.0.0.1. */
  source?: ArchiveCheck;
  downloadOptions?: DownloadOptions;
}

export interface Ensured {
  dir: string;
  downloaded: boolean;
}

/**
 * The folder holding `name`'s files, fetching them first when they are missing. UserError (one line) when they
 * cannot be had: downloads forbidden, no source, server unreachable (OfflineError), or a failed or corrupt
 * download (nothing half-written is left behind).
 */
export async function ensureDataset(name: CifarName, opts: EnsureOptions = {}): Promise<Ensured> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = resolveDataRoot(opts.dataDir);
  const dir = datasetDirIn(name, root.dir);
  const missing = missingFiles(name, dir, root.dir);
  if (missing.length === 0 && dir) return { dir, downloaded: false };
  const layout = CIFAR_LAYOUTS[name];
  const missingText = missing.map((f) => path.relative(root.dir, f) || f).join(', ');

  if (name === 'cifar10-mini') {
    const full = datasetDirIn('cifar10', root.dir);
    if (full && missingFiles('cifar10', full, root.dir).length === 0) {
      const made = makeMiniFromCifar10(full, root.dir);
      log(`cifar10-mini: wrote the prefix set into ${made} from ${full}`);
      return { dir: made, downloaded: false };
    }
    throw new UserError(
      `cifar10-mini not found in ${root.dir}: it is cut from CIFAR-10; run 'opulab data --dataset cifar10' first (same --data-dir), or put ${layout.folder}/ there`,
    );
  }

  const check = opts.source ?? officialArchiveCheck(name);
  if (!check) throw new UserError(`${name}: no download source known; put ${layout.folder}/ in ${root.dir}`);
  const spec = check.archive;
  const where = `put the official binary files (${spec.folder}/ from ${spec.url}) in ${root.dir}, or point --data-dir / OPULAB_DATA_DIR at a folder holding them`;
  if (opts.download === false) throw new UserError(`${name}: files missing in ${root.dir} (${missingText}) and --no-download given; ${where}`);
  try {
    const made = await installArchive(check, root.dir, log, opts.downloadOptions);
    return { dir: made, downloaded: true };
  } catch (e) {
    if (e instanceof UnreachableError) throw new OfflineError(`${name}: not in ${root.dir} and ${spec.url} is unreachable (${e.message}; offline?); ${where}`);
    throw e;
  }
}

/** True when `name` is a CIFAR set whose files are all present under the data dir. */
export function datasetPresent(name: CifarName, dataDir?: string): boolean {
  const root = resolveDataRoot(dataDir);
  const dir = datasetDirIn(name, root.dir);
  return dir !== null && missingFiles(name, dir, root.dir).length === 0;
}

export interface PrepareOptions extends EnsureOptions {
  /** Use the synthetic set when the data cannot be had offline or with --no-download (the demo). */
  syntheticFallback?: boolean;
}

/**
 * The dataset a command will read: `name` once its files are there (downloaded if needed), or 'synthetic' when
 * the caller allows the fallback and the files cannot be had (offline, or --no-download); the fallback is said in
 * one line. Any other failure (a corrupt or broken download) is a UserError.
 */
export async function prepareDataset<N extends string>(name: N, opts: PrepareOptions = {}): Promise<N | 'synthetic'> {
  if (!isCifarName(name) || datasetPresent(name, opts.dataDir)) return name;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = resolveDataRoot(opts.dataDir);
  if (opts.syntheticFallback && opts.download === false) {
    log(`${name} not found in ${root.dir} (${root.origin}${opts.download === false ? ', --no-download' : ''}): using the synthetic dataset instead`);
    return 'synthetic';
  }
  try {
    await ensureDataset(name, { ...opts, log });
    return name;
  } catch (e) {
    if (!(e instanceof OfflineError) || !opts.syntheticFallback) throw e;
    const url = (opts.source ?? officialArchiveCheck(name))?.archive.url ?? '';
    log(`${name} not found in ${root.dir} (${root.origin}) and ${url} is unreachable (offline?): using the synthetic dataset instead`);
    return 'synthetic';
  }
}

function isCifarName(name: string): name is CifarName {
  return Object.prototype.hasOwnProperty.call(CIFAR_LAYOUTS, name);
}
