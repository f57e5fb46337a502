/**
 * A small reader for (gzip-decompressed) tar archives: POSIX ustar and GNU tar, including GNU long names
 * ('L') and pax path records ('x'). Enough for the official CIFAR archives; no dependencies.
 * Format: 512-byte header blocks (name 0..100, size 124..136 octal, checksum 148..156, type 156,
 * magic 257, prefix 345..500), file data padded to 512 bytes, ended by zero blocks.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../src/util/errors';

const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive ('/' separated, no leading './'). */
  name: string;
  type: 'file' | 'directory' | 'other';
  data: Uint8Array;
}

function cString(buf: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && buf[end] !== 0) end++;
  return Buffer.from(buf.subarray(start, end)).toString('utf8');
}

/** Numeric header field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function numberField(buf: Uint8Array, start: number, len: number): number {
  if (buf[start] & 0x80) {
    let v = buf[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[start + i];
    return v;
  }
  const text = cString(buf, start, len).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function isZeroBlock(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < BLOCK; i++) if (buf[off + i] !== 0) return false;
  return true;
}

/** Header checksum: sum of the header bytes with the checksum field read as spaces (unsigned). */
function headerChecksum(buf: Uint8Array, off: number): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : buf[off + i];
  return sum;
}

/** pax extended header records: "<len> key=value\n". */
function paxPath(data: Uint8Array): string | undefined {
  const text = Buffer.from(data).toString('utf8');
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) found = m[1];
  }
  return found;
}

/** Iterate the entries of an uncompressed tar archive; UserError naming `label` when it is malformed. */
export function* readTar(buf: Uint8Array, label = 'tar archive'): Generator<TarEntry> {
  let off = 0;
  let longName: string | undefined;
  while (off + BLOCK <= buf.length) {
    if (isZeroBlock(buf, off)) return;
    const stored = numberField(buf, off + 148, 8);
    if (stored !== headerChecksum(buf, off)) {
      throw new UserError(`${label}: bad tar header checksum at byte ${off} (corrupt or not a tar archive)`);
    }
    const size = numberField(buf, off + 124, 12);
    const typeflag = String.fromCharCode(buf[off + 156] || 48); // NUL = regular file
    const magic = cString(buf, off + 257, 6);
    const prefix = magic.startsWith('ustar') ? cString(buf, off + 345, 155) : '';
    const baseName = cString(buf, off + 0, 100);
    const dataStart = off + BLOCK;
    if (dataStart + size > buf.length) throw new UserError(`${label}: truncated tar archive (entry '${baseName}')`);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === 'L') {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (typeflag === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (typeflag === 'g') continue;

    let name = longName ?? (prefix ? `${prefix}/${baseName}` : baseName);
    longName = undefined;
    name = name.replace(/^(\.\/)+/, '');
    const type = typeflag === '0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : 'other';
    yield { name, type, data };
  }
}

/** `name` resolved under `destDir`; UserError for absolute paths or '..' escapes. */
function safeJoin(destDir: string, name: string, label: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || parts.includes('..') || parts.length === 0) {
    throw new UserError(`${label}: refusing unsafe path '${name}' in archive`);
  }
  return path.join(destDir, ...parts);
}

/**
 * Extract the regular files (and directories) of a tar archive under `destDir`, each file written to a
 * temporary name and renamed into place. `accept` filters by archive path. Returns the written paths.
 */
export function extractTar(
  buf: Uint8Array,
  destDir: string,
  accept: (name: string) => boolean = () => true,
  label = 'tar archive',
): string[] {
  const written: string[] = [];
  for (const entry of readTar(buf, label)) {
    if (entry.type === 'other' || !accept(entry.name)) continue;
    const target = safeJoin(destDir, entry.name, label);
    if (entry.type === 'directory') {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.part`;
    fs.writeFileSync(tmp, entry.data);
    fs.renameSync(tmp, target);
    written.push(target);
  }
  return written;
}
