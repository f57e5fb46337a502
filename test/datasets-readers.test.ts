/**
 * CIFAR binary readers and data-dir resolution, against published facts about the official files (label counts, first labels, per-channel statistics) and
 * hand-built files.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CIFAR10_FORMAT,
  CIFAR100_FORMAT,
  describeDatasets,
  findDatasetDir,
  loadDataset,
  locateDatasetDir,
  perClassCounts,
  readCifarFile,
  readCifarLabels,
  resolveDataRoot,
} from '../datasets';
import { UserError } from '../src/util/errors';
import { sharedDataDir } from './helpers/shared-data';

const DATA = sharedDataDir();
if (!DATA) console.warn('datasets-readers: real CIFAR copy not found (set OPULAB_DATA_DIR); skipping real-data tests');
const withData = DATA ? describe : describe.skip;
const data = (): string => DATA as string;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-ds-'));
}

/** A CIFAR-10 record: label, then R, G, B planes filled by `pixel(c, p)`. */
function cifar10Record(label: number, pixel: (c: number, p: number) => number): Uint8Array {
  const r = new Uint8Array(3073);
  r[0] = label;
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) r[1 + c * 1024 + p] = pixel(c, p);
  return r;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

/** Run `fn` with environment overrides, restoring afterwards. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  try {
    return fn();
  } finally {
    for (const k of Object.keys(saved)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

describe('hand-built files', () => {
  const pix = (rec: number) => (c: number, p: number) => (rec * 50 + c * 80 + p) % 256;

  test('planes are converted to NHWC for a 2-record file', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'two.bin');
    fs.writeFileSync(file, concat([cifar10Record(3, pix(0)), cifar10Record(9, pix(1))]));
    const rec = readCifarFile(file, CIFAR10_FORMAT);
    expect(rec.n).toBe(2);
    expect(Array.from(rec.labels)).toEqual([3, 9]);
    expect(rec.images.length).toBe(2 * 32 * 32 * 3);
    for (let i = 0; i < 2; i++) {
      for (const [y, x] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [17, 5],
        [31, 31],
      ]) {
        const p = y * 32 + x;
        for (let c = 0; c < 3; c++) {
          expect(rec.images[i * 3072 + (y * 32 + x) * 3 + c]).toBe(pix(i)(c, p));
        }
      }
    }
    // whole-array check against an independent index formula
    for (let i = 0; i < 2; i++)
      for (let p = 0; p < 1024; p++)
        for (let c = 0; c < 3; c++) if (rec.images[i * 3072 + p * 3 + c] !== pix(i)(c, p)) throw new Error(`pixel ${i},${p},${c}`);
  });

  test('CIFAR-100 records: coarse and fine labels', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'c100.bin');
    const rec = (coarse: number, fine: number): Uint8Array => {
      const r = new Uint8Array(3074);
      r[0] = coarse;
      r[1] = fine;
      r[2] = 11; // R of pixel 0
      r[2 + 1024] = 22; // G of pixel 0
      r[2 + 2048 + 1023] = 33; // B of the last pixel
      return r;
    };
    fs.writeFileSync(file, concat([rec(19, 99), rec(0, 7), rec(4, 55)]));
    const out = readCifarFile(file, CIFAR100_FORMAT);
    expect(Array.from(out.labels)).toEqual([99, 7, 55]);
    expect(Array.from(out.coarseLabels ?? [])).toEqual([19, 0, 4]);
    expect([out.images[0], out.images[1], out.images[2]]).toEqual([11, 22, 0]);
    expect(out.images[1023 * 3 + 2]).toBe(33);
  });

  test('limit reads only the first records (a corrupt tail after them is not touched)', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'tail.bin');
    fs.writeFileSync(file, concat([cifar10Record(1, pix(0)), cifar10Record(2, pix(1)), cifar10Record(200, pix(2))]));
    const rec = readCifarFile(file, CIFAR10_FORMAT, 2);
    expect(Array.from(rec.labels)).toEqual([1, 2]);
    expect(() => readCifarFile(file, CIFAR10_FORMAT)).toThrow(UserError);
  });

  test('errors: truncated, missing, label out of range, each naming the file', () => {
    const dir = tmpDir();
    const truncated = path.join(dir, 'truncated.bin');
    fs.writeFileSync(truncated, concat([cifar10Record(1, pix(0)), cifar10Record(2, pix(1))]).subarray(0, 3073 * 2 - 5));
    expect(() => readCifarFile(truncated, CIFAR10_FORMAT)).toThrow(UserError);
    expect(() => readCifarFile(truncated, CIFAR10_FORMAT)).toThrow(/truncated\.bin has 6141 bytes, not a multiple of the 3073-byte record/);

    const missing = path.join(dir, 'nope.bin');
    expect(() => readCifarFile(missing, CIFAR10_FORMAT)).toThrow(`CIFAR-10 file not found: ${missing}`);

    const bad = path.join(dir, 'badlabel.bin');
    fs.writeFileSync(bad, concat([cifar10Record(0, pix(0)), cifar10Record(10, pix(1))]));
    expect(() => readCifarFile(bad, CIFAR10_FORMAT)).toThrow(/badlabel\.bin: label 10 at record 1 is out of range 0-9/);
    expect(() => readCifarLabels(bad, CIFAR10_FORMAT)).toThrow(/label 10 at record 1/);

    const bad100 = path.join(dir, 'bad100.bin');
    const r = new Uint8Array(3074);
    r[0] = 20;
    r[1] = 3;
    fs.writeFileSync(bad100, r);
    expect(() => readCifarFile(bad100, CIFAR100_FORMAT)).toThrow(/bad100\.bin: coarse label 20 at record 0 is out of range 0-19/);
    r[0] = 1;
    r[1] = 100;
    fs.writeFileSync(bad100, r);
    expect(() => readCifarFile(bad100, CIFAR100_FORMAT)).toThrow(/label 100 at record 0 is out of range 0-99/);

    for (const f of [truncated, missing, bad]) {
      try {
        readCifarFile(f, CIFAR10_FORMAT);
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });

  test('CIFAR-100 prefers train.bin over train-10k.bin; bad limit is a UserError', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `f${i}`).join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `c${i}`).join('\n') + '\n\n');
    const rec = (fine: number): Uint8Array => {
      const r = new Uint8Array(3074);
      r[0] = fine % 20;
      r[1] = fine;
      return r;
    };
    fs.writeFileSync(path.join(dir, 'test.bin'), rec(5));
    fs.writeFileSync(path.join(dir, 'train-10k.bin'), concat([rec(1), rec(2)]));
    // hand-made files are not the official ones: reading them needs the explicit allowance
    expect(() => loadDataset('cifar100', 'train', { dataDir: dir })).toThrow(/train-10k\.bin: 6148 bytes, expected .*--allow-unofficial-data/);
    const own = { dataDir: dir, allowUnofficial: true };
    const warn = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(Array.from(loadDataset('cifar100', 'train', own).labels)).toEqual([1, 2]);
      fs.writeFileSync(path.join(dir, 'train.bin'), concat([rec(7), rec(8), rec(9)]));
      const ds = loadDataset('cifar100', 'train', own);
      expect(ds.provenance?.status).toBe('unofficial');
    expect(Array.from(ds.labels)).toEqual([7, 8, 9]);
      expect(ds.classNames[99]).toBe('f99');
    } finally {
      warn.mockRestore();
    }
    expect(() => loadDataset('cifar100', 'train', { dataDir: dir, limit: 0 })).toThrow(/limit 0 is not valid/);
    expect(() => loadDataset('cifar100', 'valid' as 'train', { dataDir: dir })).toThrow(/unknown split 'valid'/);
    expect(() => loadDataset('mnist' as 'cifar10', 'train', { dataDir: dir })).toThrow(/unknown dataset 'mnist'/);
  });
});

withData('real CIFAR files (shared copy)', () => {
  test('CIFAR-10 first labels and data_batch_1 per-class counts', () => {
    const c10 = path.join(data(), 'cifar-10-batches-bin');
    expect(Array.from(readCifarFile(path.join(c10, 'data_batch_1.bin'), CIFAR10_FORMAT, 10).labels)).toEqual([6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    expect(Array.from(loadDataset('cifar10', 'test', { dataDir: c10, limit: 10 }).labels)).toEqual([3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    const { labels } = readCifarLabels(path.join(c10, 'data_batch_1.bin'), CIFAR10_FORMAT);
    expect(perClassCounts({ numClasses: 10, labels })).toEqual([1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]);
  });

  test('full CIFAR-10 train: 5000 per class and the published channel means/stds (RGB order)', () => {
    const ds = loadDataset('cifar10', 'train', { dataDir: data() });
    expect(ds.n).toBe(50000);
    expect(perClassCounts(ds)).toEqual(new Array(10).fill(5000));
    const sum = [0, 0, 0];
    const sq = [0, 0, 0];
    for (let i = 0; i < ds.images.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = ds.images[i + c];
        sum[c] += v;
        sq[c] += v * v;
      }
    }
    const count = ds.images.length / 3;
    const mean = sum.map((s) => s / count);
    const std = sq.map((s, c) => Math.sqrt(s / count - mean[c] * mean[c]));
    [125.307, 122.95, 113.865].forEach((m, c) => expect(mean[c]).toBeCloseTo(m, 2));
    [62.993, 62.089, 66.705].forEach((s, c) => expect(std[c]).toBeCloseTo(s, 2));
    expect(ds.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(ds.normalization).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect([ds.height, ds.width, ds.channels]).toEqual([32, 32, 3]);
  });

  test('cifar10-mini per-class counts (parent layout)', () => {
    const tr = loadDataset('cifar10-mini', 'train', { dataDir: data() });
    const te = loadDataset('cifar10-mini', 'test', { dataDir: data() });
    expect(perClassCounts(tr)).toEqual([102, 112, 99, 92, 99, 85, 107, 102, 99, 103]);
    expect(perClassCounts(te)).toEqual([57, 41, 51, 49, 40, 48, 54, 47, 57, 56]);
    expect(tr.source).toBe(path.join(data(), 'cifar-10-mini'));
    // the mini set is a prefix of the full set: same bytes
    const full = loadDataset('cifar10', 'train', { dataDir: data(), limit: 1000 });
    expect(Buffer.compare(Buffer.from(full.images), Buffer.from(tr.images))).toBe(0);
  });

  test('CIFAR-100 test: first fine labels, 100 per fine / 500 per coarse class; train-10k fallback', () => {
    const te = loadDataset('cifar100', 'test', { dataDir: data() });
    expect(Array.from(te.labels.subarray(0, 10))).toEqual([49, 33, 72, 51, 71, 92, 15, 14, 23, 0]);
    expect(perClassCounts(te)).toEqual(new Array(100).fill(100));
    expect(perClassCounts({ numClasses: 20, labels: te.coarseLabels as Int32Array })).toEqual(new Array(20).fill(500));
    expect(te.classNames.length).toBe(100);
    expect(te.normalization.mean).toEqual([0.507, 0.486, 0.44]);
    const tr = loadDataset('cifar100', 'train', { dataDir: data(), limit: 20 });
    expect(tr.n).toBe(20);
  });

  test('data dir: folder of files, parent with official names, env var, explicit over env', () => {
    const files = path.join(data(), 'cifar-10-batches-bin');
    expect(locateDatasetDir('cifar10', files)).toBe(files);
    expect(locateDatasetDir('cifar10', data())).toBe(files);
    expect(locateDatasetDir('cifar100', data())).toBe(path.join(data(), 'cifar-100-binary'));
    expect(locateDatasetDir('cifar10-mini', data())).toBe(path.join(data(), 'cifar-10-mini'));
    const empty = tmpDir();
    withEnv({ OPULAB_DATA_DIR: data() }, () => {
      expect(resolveDataRoot()).toEqual({ dir: data(), origin: '$OPULAB_DATA_DIR' });
      expect(locateDatasetDir('cifar10')).toBe(files);
      expect(loadDataset('cifar10-mini', 'test', { limit: 3 }).n).toBe(3);
      expect(findDatasetDir('cifar10', empty)).toBeNull();
      expect(() => locateDatasetDir('cifar10', empty)).toThrow(UserError);
      expect(() => locateDatasetDir('cifar10', empty)).toThrow(`cifar10 not found in data dir ${empty} (--data-dir)`);
    });
  });

  test('data dir: default ~/.cache/opulab when neither option nor env is set', () => {
    const home = tmpDir();
    fs.mkdirSync(path.join(home, '.cache', 'opulab'), { recursive: true });
    fs.symlinkSync(path.join(data(), 'cifar-10-mini'), path.join(home, '.cache', 'opulab', 'cifar-10-mini'));
    withEnv({ OPULAB_DATA_DIR: undefined, HOME: home }, () => {
      expect(resolveDataRoot().origin).toBe('default ~/.cache/opulab');
      expect(resolveDataRoot().dir).toBe(path.join(home, '.cache', 'opulab'));
      expect(loadDataset('cifar10-mini', 'train', { limit: 5 }).labels[0]).toBe(6);
      expect(() => loadDataset('cifar10', 'train')).toThrow(/cifar10 not found in data dir .*\(default ~\/\.cache\/opulab\)/);
    });
  });

  test('cifar10 in a folder lacking a batch: missing-file error names the file', () => {
    const dir = tmpDir();
    for (const f of ['data_batch_1.bin', 'test_batch.bin', 'batches.meta.txt']) {
      fs.symlinkSync(path.join(data(), 'cifar-10-mini', f), path.join(dir, f));
    }
    expect(() => loadDataset('cifar10', 'train', { dataDir: dir })).toThrow(`CIFAR-10 file not found: ${path.join(dir, 'data_batch_2.bin')}`);
  });
});

test('describeDatasets lists every dataset name once', () => {
  expect(describeDatasets().map((d) => d.name)).toEqual(['cifar10', 'cifar10-mini', 'cifar100', 'synthetic']);
  for (const d of describeDatasets()) expect(d.description).not.toContain('\n');
});
