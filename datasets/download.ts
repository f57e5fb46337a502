/**
 * Getting the CIFAR files onto disk: download an official archive (node http/https, redirects followed),
 * verify its published MD5, gunzip and extract it under the data dir, verify each file, and move it into place
 * only when everything checked out; or cut the cifar-10-mini prefix set out of a full CIFAR-10 copy.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import * as zlib from 'zlib';
import { UserError } from '../src/util/errors';
import { ArchiveSpec, hashBuffer, KnownChecksum } from './checksums';
import { progress, Progress } from '../src/util/progress';
import { CIFAR10_FORMAT } from './cifar-binary';
import { CIFAR_LAYOUTS } from './locate';
import { extractTar } from './tar';

export interface DownloadOptions {
  /** Give up when the connection is idle this long (ms). Default 30 s. */
  timeoutMs?: number;
  /** Called as bytes arrive; total is undefined when the server sends no length. */
  onProgress?: (received: number, total: number | undefined) => void;
}

/**
 * A download that failed before the server answered (no route, no DNS, refused, timed out): the machine is
 * offline or the server unreachable. Callers that have a fallback (the demo's synthetic set) use it.
 */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

const MAX_REDIRECTS = 5;

/**
 * GET `url` into memory (http or https), following redirects. Rejects with UnreachableError when no response
 * came, and with a plain Error when the transfer failed (HTTP error status, connection lost mid-transfer,
 * fewer bytes than announced).
 */
export function downloadToBuffer(url: string, opts: DownloadOptions = {}, redirects = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new Error(`not a valid URL: ${url}`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new Error(`unsupported protocol ${parsed.protocol} in ${url}`));
      return;
    }
    const timeoutMs = opts.timeoutMs ?? 30000;
    let answered = false;
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      reject(answered ? e : new UnreachableError(e.message));
    };
    const req = client.get(parsed, (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        settled = true;
        if (redirects >= MAX_REDIRECTS) {
          reject(new Error(`too many redirects from ${url}`));
          return;
        }
        const next = new URL(res.headers.location, parsed).toString();
        downloadToBuffer(next, opts, redirects + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        fail(new Error(`HTTP ${status} from ${url}`));
        return;
      }
      const lengthHeader = res.headers['content-length'];
      const total = lengthHeader ? Number(lengthHeader) : undefined;
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        opts.onProgress?.(received, total);
      });
      res.on('end', () => {
        if (settled) return;
        if (total !== undefined && received !== total) fail(new Error(`connection closed after ${received} of ${total} bytes`));
        else {
          settled = true;
          resolve(Buffer.concat(chunks));
        }
      });
      res.on('error', (e) => fail(new Error(`transfer failed after ${received} bytes: ${e.message}`)));
      // a connection reset mid-body ends the response without 'end' on some Node versions
      res.on('close', () => fail(new Error(`connection lost after ${received}${total !== undefined ? ` of ${total}` : ''} bytes`)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data from ${url} for ${timeoutMs / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => fail(new Error(e.code && !e.message.includes(e.code) ? `${e.code} ${e.message}` : e.message)));
  });
}

/** A progress logger that prints at most one line per 10% (or per 16 MB when the size is unknown). */
export function progressLogger(log: (line: string) => void, label: string): (received: number, total: number | undefined) => void {
  let nextMark = 0;
  return (received, total) => {
    const mark = total ? Math.floor((10 * received) / total) : Math.floor(received / (16 << 20));
    if (mark < nextMark) return;
    nextMark = mark + 1;
    const mb = (received / 1048576).toFixed(1);
    log(total ? `  ${label}: ${mb} / ${(total / 1048576).toFixed(1)} MB (${mark * 10}%)` : `  ${label}: ${mb} MB`);
  };
}

/** A redrawn progress bar on a TTY (stderr), else the line logger above. */
export function progressReporter(log: (line: string) => void, label: string): (received: number, total: number | undefined) => void {
  if (!process.stderr.isTTY) return progressLogger(log, label);
  let bar: Progress | undefined;
  return (received, total) => {
    const mb = Math.floor(received / 1048576);
    bar ??= progress(`${label} (MB)`, total ? Math.ceil(total / 1048576) : 0);
    bar.update(mb);
    if (total !== undefined && received >= total) bar.done();
  };
}

/** What `installArchive` checks: the archive's MD5 and, per extracted file, its known size and checksum. */
export interface ArchiveCheck {
  archive: ArchiveSpec;
  /** Known files of the dataset by base name; every extracted file that has an entry must match it. */
  files: Readonly<Record<string, KnownChecksum>>;
}

function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

/**
 * Download `check.archive`, verify its MD5, extract its official folder into a private temporary folder under
 * `root`, verify every extracted file against `check.files`, and only then move the files into place (rename):
 * a failure at any step leaves nothing under `root` but what was there before. Returns the dataset folder.
 * Failures are UserErrors (one line) except UnreachableError, which callers may turn into a fallback.
 */
export async function installArchive(
  check: ArchiveCheck,
  root: string,
  log: (line: string) => void,
  opts: DownloadOptions = {},
): Promise<string> {
  const spec = check.archive;
  const dest = path.join(root, spec.folder);
  const unchanged = `nothing was written to ${root}`;
  let archive: Buffer;
  // said once the server answers, so that an offline machine prints only the one line its caller writes
  const report = progressReporter(log, path.basename(spec.url));
  let announced = false;
  const onProgress = (received: number, total: number | undefined): void => {
    if (!announced) log(`${spec.name}: downloading ${spec.url} into ${root}${total ? ` (${(total / 1048576).toFixed(1)} MB)` : ''}`);
    announced = true;
    report(received, total);
  };
  try {
    archive = await downloadToBuffer(spec.url, { onProgress, ...opts });
  } catch (e) {
    if (e instanceof UnreachableError) throw e;
    throw new UserError(`${spec.name}: download of ${spec.url} failed: ${(e as Error).message}; ${unchanged}`);
  }
  const md5 = hashBuffer(archive, 'md5');
  if (md5 !== spec.md5) {
    throw new UserError(`${spec.name}: archive ${spec.url} has MD5 ${md5}, expected the published ${spec.md5} (corrupt or changed download); ${unchanged}`);
  }
  let tar: Buffer;
  try {
    tar = zlib.gunzipSync(archive);
  } catch (e) {
    throw new UserError(`${spec.name}: archive ${spec.url} is not valid gzip data (${(e as Error).message}); ${unchanged}`);
  }
  fs.mkdirSync(root, { recursive: true });
  const staging = fs.mkdtempSync(path.join(root, `.${spec.folder}.download-`));
  try {
    const written = extractTar(tar, staging, (name) => name === spec.folder || name.startsWith(`${spec.folder}/`), spec.url);
    const staged = path.join(staging, spec.folder);
    if (written.length === 0 || !fs.existsSync(staged)) {
      throw new UserError(`${spec.name}: archive ${spec.url} holds no ${spec.folder}/ folder; ${unchanged}`);
    }
    for (const f of written) {
      const known = check.files[path.basename(f)];
      if (!known) continue;
      const bytes = fs.statSync(f).size;
      const actual = bytes === known.bytes ? hashBuffer(fs.readFileSync(f), known.algorithm) : 'not computed';
      if (bytes !== known.bytes || actual !== known.hex) {
        throw new UserError(
          `${spec.name}: ${path.relative(staging, f)} in ${spec.url} has ${bytes} bytes and ${known.algorithm.toUpperCase()} ${actual}, expected ${known.bytes} bytes and ${known.hex}; ${unchanged}`,
        );
      }
    }
    if (!fs.existsSync(dest)) fs.renameSync(staged, dest);
    else {
      // a folder is already there (e.g. with some files missing): move the verified files in one by one
      for (const f of written) {
        const target = path.join(dest, path.relative(staged, f));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.renameSync(f, target);
      }
    }
    log(`${spec.name}: archive MD5 ok; ${written.length} files verified and extracted into ${dest}`);
    return dest;
  } finally {
    removeTree(staging);
  }
}

/** Records of the cifar-10-mini prefix set (docs/architecture.md §3). */
export const MINI_RECORDS = { train: 1000, test: 500 } as const;

/**
 * Write the cifar-10-mini set (first 1000 train records of data_batch_1, first 500 of test_batch, class
 * names) under `root` from a CIFAR-10 folder. Returns the mini folder.
 */
export function makeMiniFromCifar10(cifar10Dir: string, root: string): string {
  const layout = CIFAR_LAYOUTS['cifar10-mini'];
  const dest = path.join(root, layout.folder);
  fs.mkdirSync(dest, { recursive: true });
  const copyPrefix = (file: string, records: number): void => {
    const src = path.join(cifar10Dir, file);
    const bytes = records * CIFAR10_FORMAT.recordBytes;
    const buf = Buffer.alloc(bytes);
    const fd = fs.openSync(src, 'r');
    try {
      const got = fs.readSync(fd, buf, 0, bytes, 0);
      if (got !== bytes) throw new UserError(`CIFAR-10 file ${src} is too short to cut ${records} records from`);
    } finally {
      fs.closeSync(fd);
    }
    const target = path.join(dest, file);
    fs.writeFileSync(`${target}.part`, buf);
    fs.renameSync(`${target}.part`, target);
  };
  copyPrefix('data_batch_1.bin', MINI_RECORDS.train);
  copyPrefix('test_batch.bin', MINI_RECORDS.test);
  fs.copyFileSync(path.join(cifar10Dir, layout.classNamesFile), path.join(dest, layout.classNamesFile));
  return dest;
}
