/**
 * Getting the CIFAR files onto disk: download an official archive (node http/https, redirects followed),
 * verify its published MD5, gunzip and extract it under the data dir; or cut the cifar-10-mini prefix set
 * out of a full CIFAR-10 copy.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import * as zlib from 'zlib';
import { UserError } from '../src/util/errors';
import { ArchiveSpec, hashBuffer } from './checksums';
import { CIFAR10_FORMAT } from './cifar-binary';
import { CIFAR_LAYOUTS } from './locate';
import { extractTar } from './tar';

export interface DownloadOptions {
  /** Give up when the connection is idle this long (ms). Default 30 s. */
  timeoutMs?: number;
  /** Called as bytes arrive; total is undefined when the server sends no length. */
  onProgress?: (received: number, total: number | undefined) => void;
}

const MAX_REDIRECTS = 5;

/** GET `url` into memory (http or https), following redirects. Rejects with a plain Error on failure. */
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
    const req = client.get(parsed, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
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
        reject(new Error(`HTTP ${status} from ${url}`));
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
        if (total !== undefined && received !== total) reject(new Error(`connection closed after ${received} of ${total} bytes`));
        else resolve(Buffer.concat(chunks));
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30000, () => req.destroy(new Error(`no response from ${url} for ${(opts.timeoutMs ?? 30000) / 1000} s`)));
    req.on('error', reject);
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

/**
 * Download `spec`'s archive, check its MD5, and extract its official folder under `root` (created when
 * needed). Returns the extracted dataset folder. Network failures reject with the underlying Error;
 * a wrong checksum or a corrupt archive is a UserError.
 */
export async function installArchive(
  spec: ArchiveSpec,
  root: string,
  log: (line: string) => void,
  opts: DownloadOptions = {},
): Promise<string> {
  log(`downloading ${spec.url}`);
  const archive = await downloadToBuffer(spec.url, { onProgress: progressLogger(log, path.basename(spec.url)), ...opts });
  const md5 = hashBuffer(archive, 'md5');
  if (md5 !== spec.md5) {
    throw new UserError(`archive ${spec.url} has MD5 ${md5}, expected the published ${spec.md5} (corrupt or changed download)`);
  }
  log(`  archive MD5 ${md5} ok`);
  let tar: Buffer;
  try {
    tar = zlib.gunzipSync(archive);
  } catch (e) {
    throw new UserError(`archive ${spec.url} is not valid gzip data: ${(e as Error).message}`);
  }
  fs.mkdirSync(root, { recursive: true });
  const written = extractTar(tar, root, (name) => name === spec.folder || name.startsWith(`${spec.folder}/`), spec.url);
  log(`  extracted ${written.length} files into ${path.join(root, spec.folder)}`);
  return path.join(root, spec.folder);
}

/** Records of the cifar-10-mini prefix set (DESIGN.md "Data"; ../shared/datasets/README.md). */
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
