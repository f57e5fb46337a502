/**
 * Readers for the official CIFAR "binary version" files (Krizhevsky 2009; https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * A record is the label byte(s) followed by 3072 pixel bytes: a 32x32 R plane, then G, then B, each row-major.
 * CIFAR-10: 1 label byte (0-9), 3073 bytes. CIFAR-100: coarse (0-19) then fine (0-99) label byte, 3074 bytes.
 * Files may hold any whole number of records. Images are returned in NHWC order.
 */
import * as fs from 'fs';
import { UserError } from '../src/util/errors';

export const IMAGE_SIZE = 32;
export const IMAGE_CHANNELS = 3;
export const PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE * IMAGE_CHANNELS; // 3072

export interface CifarFormat {
  /** 'CIFAR-10' or 'CIFAR-100', used in messages. */
  title: string;
  /** Label bytes before the pixels: 1 (label) or 2 (coarse, fine). */
  labelBytes: 1 | 2;
  recordBytes: number;
  /** Number of (fine) classes. */
  numClasses: number;
  /** Number of coarse classes (CIFAR-100 only). */
  numCoarseClasses?: number;
}

export const CIFAR10_FORMAT: CifarFormat = {
  title: 'CIFAR-10',
  labelBytes: 1,
  recordBytes: 1 + PIXELS_PER_IMAGE,
  numClasses: 10,
};

export const CIFAR100_FORMAT: CifarFormat = {
  title: 'CIFAR-100',
  labelBytes: 2,
  recordBytes: 2 + PIXELS_PER_IMAGE,
  numClasses: 100,
  numCoarseClasses: 20,
};

export interface CifarRecords {
  n: number;
  /** n * 32 * 32 * 3 bytes, NHWC. */
  images: Uint8Array;
  /** Label (CIFAR-10) or fine label (CIFAR-100). */
  labels: Int32Array;
  /** CIFAR-100 only. */
  coarseLabels?: Int32Array;
}

/** Number of whole records in a file; UserError naming the file when it is missing, empty or truncated. */
export function countRecords(file: string, format: CifarFormat): number {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new UserError(`${format.title} file is not a regular file: ${file}`);
    size = st.size;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${format.title} file not found: ${file}`);
  }
  if (size === 0) throw new UserError(`${format.title} file is empty: ${file}`);
  if (size % format.recordBytes !== 0) {
    throw new UserError(
      `${format.title} file ${file} has ${size} bytes, not a multiple of the ${format.recordBytes}-byte record (truncated or corrupt)`,
    );
  }
  return size / format.recordBytes;
}

/**
 * Convert one image from planar CHW (R plane, G plane, B plane) to interleaved HWC.
 * `src[srcOffset + c*1024 + p]` -> `dst[dstOffset + p*3 + c]`.
 */
export function planesToNhwc(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let p = 0; p < plane; p++) {
    const d = dstOffset + p * IMAGE_CHANNELS;
    dst[d] = src[srcOffset + p];
    dst[d + 1] = src[srcOffset + plane + p];
    dst[d + 2] = src[srcOffset + 2 * plane + p];
  }
}

/**
 * The (fine, coarse) labels of the record at `base`, checked against the format's ranges; coarse is -1 for
 * CIFAR-10. `record` is the record's index within `file` (for the message).
 */
function recordLabels(bytes: Uint8Array, base: number, format: CifarFormat, file: string, record: number): [number, number] {
  const fine = bytes[base + format.labelBytes - 1];
  const coarse = format.labelBytes === 2 ? bytes[base] : -1;
  const nc = format.numCoarseClasses ?? 0;
  if (format.labelBytes === 2 && coarse >= nc) {
    throw new UserError(
      `${format.title} file ${file}: coarse label ${coarse} at record ${record} is out of range 0-${nc - 1} (corrupt or not a ${format.title} binary file)`,
    );
  }
  if (fine >= format.numClasses) {
    throw new UserError(
      `${format.title} file ${file}: label ${fine} at record ${record} is out of range 0-${format.numClasses - 1} (corrupt or not a ${format.title} binary file)`,
    );
  }
  return [fine, coarse];
}

/**
 * Decode `count` whole records from `bytes` into `out` starting at example `outIndex`, checking labels.
 * `firstRecord` is the index within `file` of the first record in `bytes` (for error messages).
 */
function decodeRecords(
  bytes: Uint8Array,
  count: number,
  format: CifarFormat,
  out: CifarRecords,
  outIndex: number,
  file: string,
  firstRecord: number,
): void {
  for (let r = 0; r < count; r++) {
    const base = r * format.recordBytes;
    const i = outIndex + r;
    const [fine, coarse] = recordLabels(bytes, base, format, file, firstRecord + r);
    out.labels[i] = fine;
    if (out.coarseLabels) out.coarseLabels[i] = coarse;
    planesToNhwc(bytes, base + format.labelBytes, out.images, i * PIXELS_PER_IMAGE);
  }
}

/** Records read per chunk: bounds the temporary buffer to ~3 MB. */
const CHUNK_RECORDS = 1000;

/**
 * Read the records of several files, in order, into one NHWC array. With `limit`, only the first `limit`
 * records overall are read (and only their bytes are read from disk).
 */
export function readCifarFiles(files: readonly string[], format: CifarFormat, limit?: number): CifarRecords {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new UserError(`limit ${limit} is not valid: expected a positive integer`);
  }
  const counts = files.map((f) => countRecords(f, format));
  const available = counts.reduce((a, b) => a + b, 0);
  const n = limit === undefined ? available : Math.min(limit, available);
  const out: CifarRecords = {
    n,
    images: new Uint8Array(n * PIXELS_PER_IMAGE),
    labels: new Int32Array(n),
    coarseLabels: format.labelBytes === 2 ? new Int32Array(n) : undefined,
  };
  const chunk = new Uint8Array(Math.min(CHUNK_RECORDS, Math.max(n, 1)) * format.recordBytes);
  let filled = 0;
  for (let k = 0; k < files.length && filled < n; k++) {
    const take = Math.min(counts[k], n - filled);
    const fd = fs.openSync(files[k], 'r');
    try {
      for (let r = 0; r < take; r += CHUNK_RECORDS) {
        const m = Math.min(CHUNK_RECORDS, take - r);
        const want = m * format.recordBytes;
        let got = 0;
        while (got < want) {
          const b = fs.readSync(fd, chunk, got, want - got, r * format.recordBytes + got);
          if (b === 0) throw new UserError(`${format.title} file ${files[k]} ended early while reading (truncated)`);
          got += b;
        }
        decodeRecords(chunk, m, format, out, filled + r, files[k], r);
      }
    } finally {
      fs.closeSync(fd);
    }
    filled += take;
  }
  return out;
}

/** Read one file (see readCifarFiles). */
export function readCifarFile(file: string, format: CifarFormat, limit?: number): CifarRecords {
  return readCifarFiles([file], format, limit);
}

/**
 * Read only the labels of a file (for reports): fine labels, and coarse ones for CIFAR-100. Validates size
 * and label ranges like readCifarFile.
 */
export function readCifarLabels(file: string, format: CifarFormat): { labels: Int32Array; coarseLabels?: Int32Array } {
  const n = countRecords(file, format);
  const bytes = fs.readFileSync(file);
  const labels = new Int32Array(n);
  const coarseLabels = format.labelBytes === 2 ? new Int32Array(n) : undefined;
  for (let r = 0; r < n; r++) {
    const [fine, coarse] = recordLabels(bytes, r * format.recordBytes, format, file, r);
    labels[r] = fine;
    if (coarseLabels) coarseLabels[r] = coarse;
  }
  return { labels, coarseLabels };
}

/** Class names, one per line (empty lines ignored); UserError naming the file when missing or the count differs. */
export function readClassNames(file: string, expected: number): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`class-name file not found: ${file}`);
  }
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== expected) {
    throw new UserError(`class-name file ${file} lists ${names.length} names, expected ${expected}`);
  }
  return names;
}
