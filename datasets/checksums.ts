/**
 * Checksums of the CIFAR files and archives: the MD5 per official file and archive that dataset loaders
 * publish, and SHA-256 for opulab's derived prefix copies that have no published MD5 (CIFAR-100 train-10k.bin
 * and the cifar-10-mini files: the first records of the official files, as `opulab data --dataset
 * cifar10-mini` cuts them), each with its exact size.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { CifarName } from './locate';

export interface KnownChecksum {
  algorithm: 'md5' | 'sha256';
  hex: string;
  /** Where the value comes from, for reports. */
  origin: string;
  /** Exact file size in bytes (checked before hashing: a wrong size needs no hash). */
  bytes: number;
  /** 'official': the published file; 'prefix': its first `records` records (opulab's small derived copies). */
  kind: 'official' | 'prefix';
  records: number;
}

const OFFICIAL = 'published MD5';
const SHARED = 'SHA-256 of the shared copy';

export const KNOWN_FILE_CHECKSUMS: Readonly<Record<CifarName, Readonly<Record<string, KnownChecksum>>>> = {
  cifar10: {
    'data_batch_1.bin': { algorithm: 'md5', hex: '5dd7e06a14cb22eb9f671a540d1b7c25', origin: OFFICIAL, bytes: 30730000, kind: 'official', records: 10000 },
    'data_batch_2.bin': { algorithm: 'md5', hex: '5ea93a67294ea407fff1d09f752e9692', origin: OFFICIAL, bytes: 30730000, kind: 'official', records: 10000 },
    'data_batch_3.bin': { algorithm: 'md5', hex: '942cd6a4bcdd0dd3c604fbe906cb4421', origin: OFFICIAL, bytes: 30730000, kind: 'official', records: 10000 },
    'data_batch_4.bin': { algorithm: 'md5', hex: 'ae636b3ba5c66a11e91e8cb52e771fcb', origin: OFFICIAL, bytes: 30730000, kind: 'official', records: 10000 },
    'data_batch_5.bin': { algorithm: 'md5', hex: '53f37980c15c3d472c316c40844f3f0d', origin: OFFICIAL, bytes: 30730000, kind: 'official', records: 10000 },
    'test_batch.bin': { algorithm: 'md5', hex: '803d5f7f4d78ea53de84dbe85f74fb6d', origin: OFFICIAL, bytes: 30730000, kind: 'official', records: 10000 },
  },
  'cifar10-mini': {
    'data_batch_1.bin': {
      algorithm: 'sha256',
      hex: '1c5f9ea0fc1111d586f29115efd3db25eecf7db27b29aaebbe84721446b052cc',
      origin: SHARED,
      bytes: 3073000,
      kind: 'prefix',
      records: 1000,
    },
    'test_batch.bin': {
      algorithm: 'sha256',
      hex: 'ba456e78b292ef2a6e366d304e587255370906951905b2e06af8e9f54f412f62',
      origin: SHARED,
      bytes: 1536500,
      kind: 'prefix',
      records: 500,
    },
  },
  cifar100: {
    'train.bin': { algorithm: 'md5', hex: '6172c7755cfe09b2fe270c85cebc1b15', origin: OFFICIAL, bytes: 153700000, kind: 'official', records: 50000 },
    'test.bin': { algorithm: 'md5', hex: '4499cfba6c016c1be1438163640a0898', origin: OFFICIAL, bytes: 30740000, kind: 'official', records: 10000 },
    'train-10k.bin': {
      algorithm: 'sha256',
      hex: 'dec9f86a9b84e30f90405464a32f9c71174dbb28f1c7e723cf62779e9e6f4843',
      origin: SHARED,
      bytes: 30740000,
      kind: 'prefix',
      records: 10000,
    },
  },
};

export interface ArchiveSpec {
  /** Dataset the archive provides. */
  name: CifarName;
  url: string;
  md5: string;
  /** Folder the archive extracts to (official name). */
  folder: string;
}

/** The official archives (Krizhevsky, https://www.cs.toronto.edu/~kriz/cifar.html) with their published MD5. */
export const OFFICIAL_ARCHIVES: Readonly<Partial<Record<CifarName, ArchiveSpec>>> = {
  cifar10: {
    name: 'cifar10',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    md5: 'c32a1d4ab5d03f1284b67883e8d87530',
    folder: 'cifar-10-batches-bin',
  },
  cifar100: {
    name: 'cifar100',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
    md5: '03b5dce01913d631647c71ecec9e9cb8',
    folder: 'cifar-100-binary',
  },
};

/** Hex digest of a file, streamed. */
export function hashFile(file: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash(algorithm);
    const s = fs.createReadStream(file);
    s.on('error', reject);
    s.on('data', (chunk) => h.update(chunk));
    s.on('end', () => resolve(h.digest('hex')));
  });
}

export function hashBuffer(buf: Uint8Array, algorithm: 'md5' | 'sha256'): string {
  return crypto.createHash(algorithm).update(buf).digest('hex');
}
