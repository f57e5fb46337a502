/**
 * Data integrity on every read: before a CIFAR file is read, its size and checksum are compared with the
 * known values (checksums.ts). A file that matches neither the official file of its name nor opulab's derived
 * prefix copy is refused with one line naming the file and what was expected, unless the caller allows
 * unofficial data (--allow-unofficial-data, or OPULAB_ALLOW_UNOFFICIAL_DATA=1); then it is used and the
 * provenance says so.
 *
 * Hashing a full CIFAR-10 copy takes about a second, so digests are cached per file, keyed by (path, size,
 * mtime, inode), in the opulab cache dir (never in the data dir, which may be read-only): a later run costs a
 * stat per file. A file changed in place gets a new mtime and is hashed again.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { threadId } from 'worker_threads';
import { UserError } from '../src/util/errors';
import { KNOWN_FILE_CHECKSUMS, KnownChecksum } from './checksums';
import { CifarName } from './locate';
import { DataProvenance, FileProvenance } from './types';

/** The environment variable that allows unofficial data files (same as --allow-unofficial-data). */
export const ALLOW_UNOFFICIAL_ENV = 'OPULAB_ALLOW_UNOFFICIAL_DATA';

/** Whether unofficial files are allowed: an explicit option wins, else $OPULAB_ALLOW_UNOFFICIAL_DATA (1/true/yes). */
export function unofficialDataAllowed(explicit?: boolean): boolean {
  if (explicit !== undefined) return explicit;
  const v = (process.env[ALLOW_UNOFFICIAL_ENV] ?? '').trim().toLowerCase();
  return v === '1' || v === 'true' || v === 'yes';
}

/** opulab's cache dir: $OPULAB_CACHE_DIR, else $XDG_CACHE_HOME/opulab, else ~/.cache/opulab. */
export function opulabCacheDir(): string {
  const own = process.env.OPULAB_CACHE_DIR;
  if (own) return path.resolve(own);
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg) return path.join(path.resolve(xdg), 'opulab');
  return path.join(process.env.HOME || os.homedir(), '.cache', 'opulab');
}

/** The verification cache file. */
export function verificationCacheFile(): string {
  return path.join(opulabCacheDir(), 'verified-files.json');
}

interface CacheEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  algorithm: 'md5' | 'sha256';
  hex: string;
}

type Cache = Record<string, CacheEntry[]>;

function readCache(file: string): Cache {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Cache) : {};
  } catch {
    return {};
  }
}

/** Best effort: an unwritable cache dir only means the next run hashes again. */
function writeCache(file: string, cache: Cache): void {
  const tmp = `${file}.${process.pid}.${threadId}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(cache));
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* nothing was written */
    }
  }
}

/** Hex digest of a file, read synchronously in 4 MiB chunks. */
export function hashFileSync(file: string, algorithm: 'md5' | 'sha256'): string {
  const h = crypto.createHash(algorithm);
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      h.update(buf.subarray(0, got));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** The digest of `file`, from the cache when its path, size, mtime and inode are unchanged. */
export function cachedDigest(file: string, algorithm: 'md5' | 'sha256', cacheFile = verificationCacheFile()): string {
  const abs = path.resolve(file);
  const st = fs.statSync(abs);
  const cache = readCache(cacheFile);
  const hit = (cache[abs] ?? []).find((e) => e.algorithm === algorithm && e.size === st.size && e.mtimeMs === st.mtimeMs && e.ino === st.ino);
  if (hit) return hit.hex;
  const hex = hashFileSync(abs, algorithm);
  const fresh = readCache(cacheFile); // re-read: another process may have added entries meanwhile
  fresh[abs] = [...(fresh[abs] ?? []).filter((e) => e.algorithm !== algorithm), { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, algorithm, hex }];
  writeCache(cacheFile, fresh);
  return hex;
}

function describeKnown(name: CifarName, base: string, k: KnownChecksum): string {
  const what = k.kind === 'official' ? `the official ${name} ${base}` : `opulab's ${name} ${base} (the first ${k.records} records of the official file)`;
  return `${what}: ${k.bytes} bytes, ${k.records} records, ${k.algorithm.toUpperCase()} ${k.hex}`;
}

const HOW_TO_ALLOW = `to use files that are not the official ones (your own subset), pass --allow-unofficial-data or set ${ALLOW_UNOFFICIAL_ENV}=1`;

/** Check one file: its provenance, plus the reason when it is not a known file. */
function checkOne(name: CifarName, file: string, cacheFile: string): { prov: FileProvenance; problem?: string } {
  const base = path.basename(file);
  const bytes = fs.statSync(file).size;
  const known = KNOWN_FILE_CHECKSUMS[name][base];
  if (!known) {
    return { prov: { file, bytes, status: 'unofficial' }, problem: `${file}: not a file of the ${name} set (no known size or checksum for '${base}')` };
  }
  if (bytes !== known.bytes) {
    return { prov: { file, bytes, status: 'unofficial' }, problem: `${file}: ${bytes} bytes, expected ${describeKnown(name, base, known)}` };
  }
  const actual = cachedDigest(file, known.algorithm, cacheFile);
  if (actual !== known.hex) {
    return {
      prov: { file, bytes, status: 'unofficial' },
      problem: `${file}: ${known.algorithm.toUpperCase()} ${actual}, expected ${describeKnown(name, base, known)}`,
    };
  }
  const prov: FileProvenance = { file, bytes, status: known.kind === 'official' ? 'official' : 'official-prefix' };
  if (known.algorithm === 'md5') prov.md5 = actual;
  else prov.sha256 = actual;
  return { prov };
}

export interface VerifyOptions {
  /** Use files that match no known checksum (default: $OPULAB_ALLOW_UNOFFICIAL_DATA). */
  allowUnofficial?: boolean;
  /** Verification cache (default: verificationCacheFile()). */
  cacheFile?: string;
  /** Where to say that unofficial files are being used (default: stderr). */
  warn?: (line: string) => void;
}

/**
 * Verify the files of `name` about to be read (they exist; the reader reports missing ones). UserError (one line)
 * on the first unknown file unless unofficial data is allowed.
 */
export function verifyDataFiles(name: CifarName, files: string[], opts: VerifyOptions = {}): DataProvenance {
  const allow = unofficialDataAllowed(opts.allowUnofficial);
  const cacheFile = opts.cacheFile ?? verificationCacheFile();
  const out: FileProvenance[] = [];
  if (!files.every(isFile)) return summarize(out); // the reader names the missing file
  for (const f of files) {
    const { prov, problem } = checkOne(name, f, cacheFile);
    if (problem) {
      if (!allow) throw new UserError(`${problem}; ${HOW_TO_ALLOW}`);
      (opts.warn ?? ((l: string) => process.stderr.write(`${l}\n`)))(`warning: ${problem}; using it (unofficial data allowed), results will say so`);
    }
    out.push(prov);
  }
  return summarize(out);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The provenance of a set of files: official only when every file is the published one. */
export function summarize(files: FileProvenance[]): DataProvenance {
  const status = files.some((f) => f.status === 'unofficial')
    ? 'unofficial'
    : files.some((f) => f.status === 'official-prefix')
      ? 'official-prefix'
      : 'official';
  return { status, official: status === 'official', files };
}

/** The combined provenance of several loads (train + test): the weakest status wins. */
export function combineProvenance(parts: (DataProvenance | undefined)[]): DataProvenance | undefined {
  const present = parts.filter((p): p is DataProvenance => p !== undefined);
  if (present.length === 0) return undefined;
  if (present.some((p) => p.status === 'synthetic')) return { status: 'synthetic', official: false, files: [] };
  const seen = new Set<string>();
  const files = present.flatMap((p) => p.files).filter((f) => (seen.has(f.file) ? false : (seen.add(f.file), true)));
  return summarize(files);
}
