/**
 * `opulab data`: report on real copies, checksum verification, the cifar10-mini derivation, the tar reader,
 * and the download path against a local HTTP server (no internet needed).
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { runData } from '../src/cli/commands/data';
import { ArchiveCheck } from '../datasets/download';
import { KnownChecksum } from '../datasets/checksums';
import { ensureDataset, officialArchiveCheck, OfflineError, prepareDataset } from '../datasets/ensure';
import { extractTar, readTar } from '../datasets/tar';
import { loadDataset, perClassCounts } from '../datasets';
import { UserError } from '../src/util/errors';
import { sharedDataDir } from './helpers/shared-data';

const DATA = sharedDataDir();
if (!DATA) console.warn('datasets-data-command: real CIFAR copy not found (set OPULAB_DATA_DIR); skipping real-data tests');
const withData = DATA ? describe : describe.skip;
const data = (): string => DATA as string;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-data-'));
}

const quiet = (lines: string[]) => (line: string) => void lines.push(line);

/** A ustar header block for a regular file (or another type), with a correct checksum. */
function tarHeader(name: string, size: number, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function tarOf(entries: { name: string; data: Buffer; type?: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e.name, e.data.length, e.type));
    parts.push(e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function hasSystemTar(): boolean {
  try {
    execFileSync('tar', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('tar reader', () => {
  test('reads a hand-built ustar archive and extracts under the destination', () => {
    const tar = tarOf([
      { name: 'top/', data: Buffer.alloc(0), type: '5' },
      { name: 'top/a.bin', data: Buffer.from([1, 2, 3]) },
      { name: 'top/b.txt', data: Buffer.from('x'.repeat(700)) },
    ]);
    const entries = [...readTar(tar)];
    expect(entries.map((e) => [e.name, e.type, e.data.length])).toEqual([
      ['top/', 'directory', 0],
      ['top/a.bin', 'file', 3],
      ['top/b.txt', 'file', 700],
    ]);
    const dest = tmpDir();
    const written = extractTar(tar, dest, (n) => n !== 'top/b.txt');
    expect(written).toEqual([path.join(dest, 'top', 'a.bin')]);
    expect(Array.from(fs.readFileSync(path.join(dest, 'top', 'a.bin')))).toEqual([1, 2, 3]);
    expect(fs.existsSync(path.join(dest, 'top', 'b.txt'))).toBe(false);
  });

  test('rejects a bad header checksum, truncation and path escapes', () => {
    const tar = tarOf([{ name: 'a.bin', data: Buffer.from([1, 2, 3]) }]);
    const corrupt = Buffer.from(tar);
    corrupt[10] ^= 0xff;
    expect(() => [...readTar(corrupt, 'x.tar')]).toThrow(/x\.tar: bad tar header checksum at byte 0/);
    const big = tarOf([{ name: 'a.bin', data: Buffer.alloc(2000) }]).subarray(0, 1024);
    expect(() => [...readTar(big)]).toThrow(/truncated tar archive/);
    const evil = tarOf([{ name: '../evil.txt', data: Buffer.from('no') }]);
    const dest = tmpDir();
    expect(() => extractTar(evil, dest)).toThrow(/refusing unsafe path '..\/evil.txt'/);
    expect(fs.existsSync(path.join(dest, '..', 'evil.txt'))).toBe(false);
  });

  (hasSystemTar() ? test : test.skip)('reads GNU tar output, including a long (>100 char) name', () => {
    const src = tmpDir();
    const long = 'd'.repeat(60) + '/' + 'f'.repeat(70) + '.bin';
    fs.mkdirSync(path.join(src, 'root', 'd'.repeat(60)), { recursive: true });
    fs.writeFileSync(path.join(src, 'root', long), Buffer.from([9, 8, 7]));
    fs.writeFileSync(path.join(src, 'root', 'small.txt'), 'hello');
    const tgz = path.join(tmpDir(), 'a.tar.gz');
    execFileSync('tar', ['-czf', tgz, '-C', src, 'root']);
    const entries = [...readTar(zlib.gunzipSync(fs.readFileSync(tgz)))].filter((e) => e.type === 'file');
    const byName = new Map(entries.map((e) => [e.name, Buffer.from(e.data).toString('latin1')]));
    expect(byName.get(`root/${long}`)).toBe('\x09\x08\x07');
    expect(byName.get('root/small.txt')).toBe('hello');
  });
});

withData('opulab data on the shared copies', () => {
  test('cifar10 (folder of files): 50000 / 10000, 5000 / 1000 per class, MD5s verified', async () => {
    const lines: string[] = [];
    const r = await runData({ dataset: 'cifar10', dataDir: path.join(data(), 'cifar-10-batches-bin'), log: quiet(lines), download: false });
    expect(r.train.records).toBe(50000);
    expect(r.test.records).toBe(10000);
    expect(r.train.perClass).toEqual(new Array(10).fill(5000));
    expect(r.test.perClass).toEqual(new Array(10).fill(1000));
    expect(r.downloaded).toBe(false);
    expect(r.inspection?.files.map((f) => f.checksum.status)).toEqual(new Array(6).fill('ok'));
    expect(r.inspection?.files[0].perClass).toEqual([1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]);
    expect(lines.join('\n')).toMatch(/train: 50000 records; per class 5000 each/);
    expect(lines.join('\n')).toMatch(/data_batch_1\.bin\s+30730000 bytes\s+10000 records\s+md5 ok/);
  });

  test('cifar100 via the parent dir: train-10k fallback noted, test MD5 verified', async () => {
    const r = await runData({ dataset: 'cifar100', dataDir: data(), log: () => undefined, download: false });
    expect(r.test.perClass).toEqual(new Array(100).fill(100));
    expect(r.train.records).toBe(10000);
    expect(r.inspection?.notes.join(' ')).toMatch(/train\.bin absent: using train-10k\.bin/);
    expect(r.inspection?.files.map((f) => [path.basename(f.file), f.checksum.known?.algorithm, f.checksum.status])).toEqual([
      ['train-10k.bin', 'sha256', 'ok'],
      ['test.bin', 'md5', 'ok'],
    ]);
  });

  test('a corrupted copy fails with a one-line error naming the file', async () => {
    const dir = tmpDir();
    const mini = path.join(data(), 'cifar-10-mini');
    for (const f of fs.readdirSync(mini)) fs.copyFileSync(path.join(mini, f), path.join(dir, f));
    const file = path.join(dir, 'test_batch.bin');
    const bytes = fs.readFileSync(file);
    bytes[100] ^= 1; // a pixel byte: the file still parses
    fs.writeFileSync(file, bytes);
    const lines: string[] = [];
    const err = await runData({ dataset: 'cifar10-mini', dataDir: dir, log: quiet(lines), download: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: sha256 [0-9a-f]{64} does not match`));
    expect((err as Error).message).not.toContain('\n');
    expect(lines.join('\n')).toMatch(/test_batch\.bin .* sha256 MISMATCH/);
  });

  test('cifar10-mini is cut from a full CIFAR-10 copy when missing (matches the published SHA-256)', async () => {
    const root = tmpDir();
    fs.symlinkSync(path.join(data(), 'cifar-10-batches-bin'), path.join(root, 'cifar-10-batches-bin'));
    const r = await runData({ dataset: 'cifar10-mini', dataDir: root, log: () => undefined, download: false });
    expect(r.dir).toBe(path.join(root, 'cifar-10-mini'));
    expect(r.inspection?.files.map((f) => f.checksum.status)).toEqual(['ok', 'ok']);
    expect(r.train.perClass).toEqual([102, 112, 99, 92, 99, 85, 107, 102, 99, 103]);
  });
});

describe('download path (local server on 127.0.0.1)', () => {
  let server: http.Server;
  let base = '';
  /** What the server does per path: a body, optionally cut short (socket destroyed) after `cutAt` bytes. */
  const routes = new Map<string, { body: Buffer; cutAt?: number; status?: number }>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect.tar.gz') {
        res.writeHead(302, { Location: '/archive.tar.gz' });
        res.end();
        return;
      }
      const route = routes.get(req.url ?? '');
      if (!route) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(route.status ?? 200, { 'Content-Length': route.body.length });
      if (route.cutAt === undefined) {
        res.end(route.body);
        return;
      }
      // a server error mid-transfer: part of the body, then the connection is dropped
      res.write(route.body.subarray(0, route.cutAt), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Hand-made records in the CIFAR-10 format. */
  const batch = (seed: number, n: number): Buffer => {
    const b = Buffer.alloc(n * 3073);
    for (let r = 0; r < n; r++) {
      b[r * 3073] = (seed + r) % 10;
      b.fill((seed * 31 + r) % 256, r * 3073 + 1, (r + 1) * 3073);
    }
    return b;
  };
  const fakeFiles = (): { name: string; data: Buffer }[] => [
    ...[1, 2, 3, 4, 5].map((k) => ({ name: `data_batch_${k}.bin`, data: batch(k, 20) })),
    { name: 'test_batch.bin', data: batch(9, 10) },
    { name: 'batches.meta.txt', data: Buffer.from('a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n') },
  ];
  /** A small archive in the official CIFAR-10 layout, built here. */
  function fakeCifar10Archive(): Buffer {
    const entries = [
      { name: 'cifar-10-batches-bin/', data: Buffer.alloc(0), type: '5' },
      ...fakeFiles().map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })),
      { name: 'other/ignored.txt', data: Buffer.from('not extracted') },
    ];
    return zlib.gzipSync(tarOf(entries));
  }
  /** The injected source: this server's archive, its MD5, and the per-file checks of the fake files. */
  function source(url: string, archive: Buffer, md5 = crypto.createHash('md5').update(archive).digest('hex')): ArchiveCheck {
    const files: Record<string, KnownChecksum> = {};
    for (const f of fakeFiles().filter((x) => x.name.endsWith('.bin'))) {
      files[f.name] = { algorithm: 'sha256', hex: crypto.createHash('sha256').update(f.data).digest('hex'), origin: 'test', bytes: f.data.length, kind: 'official', records: f.data.length / 3073 };
    }
    return { archive: { name: 'cifar10', url, md5, folder: 'cifar-10-batches-bin' }, files };
  }
  /** Every path under `dir` (relative), to show that a failure leaves nothing behind. */
  const tree = (dir: string): string[] => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : []);

  test('good archive: downloaded (following a redirect), MD5 and every file verified, extracted into the data dir, one line saying where', async () => {
    const archive = fakeCifar10Archive();
    routes.set('/archive.tar.gz', { body: archive });
    const root = path.join(tmpDir(), 'cache');
    const lines: string[] = [];
    const r = await ensureDataset('cifar10', { dataDir: root, log: quiet(lines), source: source(`${base}/redirect.tar.gz`, archive) });
    expect(r).toEqual({ dir: path.join(root, 'cifar-10-batches-bin'), downloaded: true });
    expect(tree(root)).toEqual(['cifar-10-batches-bin', ...fakeFiles().map((f) => `cifar-10-batches-bin/${f.name}`).sort()]);
    expect(lines.filter((l) => /extracted into/.test(l))).toEqual([`cifar10: archive MD5 ok; 7 files verified and extracted into ${r.dir}`]);
    const ds = loadDataset('cifar10', 'train', { dataDir: root, allowUnofficial: true });
    expect(ds.n).toBe(100);
    expect(perClassCounts(ds)).toEqual(new Array(10).fill(10));
    expect(ds.images[0]).toBe(31 % 256);
    // present now: no second download
    expect(await ensureDataset('cifar10', { dataDir: root, log: quiet(lines), source: source(`${base}/none.tar.gz`, archive) })).toEqual({ dir: r.dir, downloaded: false });
  });

  const failures: [string, () => { route: string; check: (url: string) => ArchiveCheck }, RegExp][] = [
    [
      'truncated archive (served whole, cut gzip stream)',
      () => {
        const full = fakeCifar10Archive();
        const cut = full.subarray(0, full.length >> 1);
        routes.set('/truncated.tar.gz', { body: cut });
        return { route: '/truncated.tar.gz', check: (url) => source(url, cut) };
      },
      /^cifar10: archive http:\/\/127\.0\.0\.1:\d+\/truncated\.tar\.gz is not valid gzip data \(unexpected end of file\); nothing was written to /,
    ],
    [
      'wrong checksum',
      () => {
        const archive = fakeCifar10Archive();
        routes.set('/archive.tar.gz', { body: archive });
        return { route: '/archive.tar.gz', check: (url) => source(url, archive, '0'.repeat(32)) };
      },
      /^cifar10: archive http:\/\/127\.0\.0\.1:\d+\/archive\.tar\.gz has MD5 [0-9a-f]{32}, expected the published 0{32} \(corrupt or changed download\); nothing was written to /,
    ],
    [
      'server error mid-transfer (connection dropped halfway)',
      () => {
        const archive = fakeCifar10Archive();
        routes.set('/dropped.tar.gz', { body: archive, cutAt: archive.length >> 1 });
        return { route: '/dropped.tar.gz', check: (url) => source(url, archive) };
      },
      /^cifar10: download of http:\/\/127\.0\.0\.1:\d+\/dropped\.tar\.gz failed: (connection lost|connection closed|transfer failed) after \d+ .*; nothing was written to /,
    ],
    [
      'server error status (HTTP 500)',
      () => {
        routes.set('/error.tar.gz', { body: Buffer.from('internal error'), status: 500 });
        return { route: '/error.tar.gz', check: (url) => source(url, fakeCifar10Archive()) };
      },
      /^cifar10: download of http:\/\/127\.0\.0\.1:\d+\/error\.tar\.gz failed: HTTP 500 from .*; nothing was written to /,
    ],
    [
      'an archive file that fails its own check (a batch replaced)',
      () => {
        const good = source('', fakeCifar10Archive());
        const entries = fakeFiles().map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.name === 'data_batch_3.bin' ? batch(3, 19) : f.data }));
        const archive = zlib.gzipSync(tarOf(entries));
        routes.set('/replaced.tar.gz', { body: archive });
        return { route: '/replaced.tar.gz', check: (url) => ({ ...source(url, archive), files: good.files }) };
      },
      /^cifar10: cifar-10-batches-bin\/data_batch_3\.bin in http:\/\/127\.0\.0\.1:\d+\/replaced\.tar\.gz has 58387 bytes and SHA256 not computed, expected 61460 bytes and [0-9a-f]{64}; nothing was written to /,
    ],
  ];
  test.each(failures)('%s: one-line error, no half-written cache', async (_label, setup, expected) => {
    const { route, check } = setup();
    const root = path.join(tmpDir(), 'cache');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'keep.txt'), 'already there');
    const err = await ensureDataset('cifar10', { dataDir: root, log: () => undefined, source: check(`${base}${route}`) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).toMatch(expected);
    expect(msg).not.toContain('\n');
    expect(tree(root)).toEqual(['keep.txt']);
    process.stdout.write(`download case "${_label}": ${msg}\n`);
  });

  test('offline (nothing listening): one line, and the demo-style fallback picks the synthetic set', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const addr = closed.address();
    const port = typeof addr === 'object' && addr ? addr.port : 1;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const root = tmpDir();
    const url = `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`;
    const check = source(url, Buffer.alloc(0));
    const err = await ensureDataset('cifar10', { dataDir: root, log: () => undefined, source: check }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfflineError);
    const msg = (err as Error).message;
    expect(msg).toMatch(new RegExp(`^cifar10: not in ${root} and ${url} is unreachable \\(.*ECONNREFUSED.*; offline\\?\\); put the official binary files`));
    expect(msg).not.toContain('\n');
    const lines: string[] = [];
    expect(await prepareDataset('cifar10', { dataDir: root, log: quiet(lines), source: check, syntheticFallback: true })).toBe('synthetic');
    expect(lines).toEqual([`cifar10 not found in ${root} (--data-dir) and ${url} is unreachable (offline?): using the synthetic dataset instead`]);
    expect(fs.readdirSync(root)).toEqual([]);
    process.stdout.write(`download case "offline": ${msg}\n`);

    // --no-download: no attempt at all
    const noDl = await runData({ dataset: 'cifar100', dataDir: root, log: () => undefined, download: false }).catch((e: unknown) => e);
    expect((noDl as Error).message).toMatch(/^cifar100: files missing in .* and --no-download given; put the official binary files \(cifar-100-binary\/ from https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-100-binary\.tar\.gz\)/);
    const lines2: string[] = [];
    expect(await prepareDataset('cifar10', { dataDir: root, log: quiet(lines2), download: false, syntheticFallback: true })).toBe('synthetic');
    expect(lines2).toEqual([`cifar10 not found in ${root} (--data-dir, --no-download): using the synthetic dataset instead`]);
  });

  test('runData downloads missing files, then reports them (the published MD5s do not match the fake files)', async () => {
    const archive = fakeCifar10Archive();
    routes.set('/archive.tar.gz', { body: archive });
    const root = tmpDir();
    const lines: string[] = [];
    const err = await runData({ dataset: 'cifar10', dataDir: root, log: quiet(lines), source: source(`${base}/archive.tar.gz`, archive) }).catch((e: unknown) => e);
    expect(lines.join('\n')).toMatch(/downloading .*archive\.tar\.gz/);
    expect(lines.join('\n')).toMatch(/train: 100 records; per class 10 each/);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/data_batch_1\.bin: md5 .* does not match the expected 5dd7e06a14cb22eb9f671a540d1b7c25/);
  });

  test('the real path uses the official archive and the published checksums', () => {
    const c = officialArchiveCheck('cifar10');
    expect(c?.archive).toEqual({ name: 'cifar10', url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', folder: 'cifar-10-batches-bin' });
    expect(c?.files['test_batch.bin']).toMatchObject({ algorithm: 'md5', hex: '803d5f7f4d78ea53de84dbe85f74fb6d', bytes: 30730000 });
    expect(officialArchiveCheck('cifar10-mini')).toBeNull();
  });

  test('synthetic needs no files', async () => {
    const r = await runData({ dataset: 'synthetic', log: () => undefined, seed: 2 });
    expect(r.train.records).toBe(5000);
    expect(r.test.perClass).toEqual(new Array(10).fill(100));
  }, 60000);
});
