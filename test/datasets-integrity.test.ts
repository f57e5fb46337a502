/**
 * Data integrity on every read: a CIFAR file whose size or checksum is not the official one (or opulab's verified
 * prefix copy) is a one-line error (exit 2) naming the file and what was expected; the verification is cached by
 * (path, size, mtime, inode); a user's own files are usable with --allow-unofficial-data and results say so.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadDataset } from '../datasets';
import { verifyDataFiles } from '../datasets/verify';
import { ResultsFile } from '../src/results/schema';
import { UserError } from '../src/util/errors';
import { sharedDataDir } from './helpers/shared-data';

const DATA = sharedDataDir();
if (!DATA) console.warn('datasets-integrity: real CIFAR copy not found (set OPULAB_DATA_DIR); skipping');
const withData = DATA ? describe : describe.skip;
const data = (): string => DATA as string;
const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-integrity-'));
const cacheFile = path.join(tmp, 'cache', 'verified-files.json');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the cifar-10-mini folder whose test_batch.bin keeps only its first `records` records. */
function truncatedMini(records: number): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'mini-'));
  const mini = path.join(data(), 'cifar-10-mini');
  for (const f of fs.readdirSync(mini)) fs.copyFileSync(path.join(mini, f), path.join(dir, f));
  const test = path.join(dir, 'test_batch.bin');
  fs.writeFileSync(test, fs.readFileSync(test).subarray(0, records * 3073));
  return dir;
}

withData('integrity checks in the loader', () => {
  test('a test_batch.bin truncated to 400 whole records is refused, naming the file and what was expected', () => {
    const dir = truncatedMini(400);
    const file = path.join(dir, 'test_batch.bin');
    let err: unknown;
    try {
      loadDataset('cifar10-mini', 'test', { dataDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).toBe(
      `${file}: 1229200 bytes, expected opulab's cifar10-mini test_batch.bin (the first 500 records of the official file): 1536500 bytes, 500 records, SHA256 ba456e78b292ef2a6e366d304e587255370906951905b2e06af8e9f54f412f62; to use files that are not the official ones (your own subset), pass --allow-unofficial-data or set OPULAB_ALLOW_UNOFFICIAL_DATA=1`,
    );
    // explicitly allowed: read, with a warning, and the provenance says it is not the official set
    const warnings: string[] = [];
    const prov = verifyDataFiles('cifar10-mini', [file], { allowUnofficial: true, cacheFile, warn: (l) => warnings.push(l) });
    expect(prov).toMatchObject({ status: 'unofficial', official: false, files: [{ file, bytes: 1229200, status: 'unofficial' }] });
    expect(warnings).toEqual([expect.stringMatching(/^warning: .*test_batch\.bin: 1229200 bytes, expected .*; using it \(unofficial data allowed\), results will say so$/)]);
    const prev = process.env.OPULAB_ALLOW_UNOFFICIAL_DATA;
    process.env.OPULAB_ALLOW_UNOFFICIAL_DATA = '1';
    const se = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const ds = loadDataset('cifar10-mini', 'test', { dataDir: dir });
      expect(ds.n).toBe(400);
      expect(ds.provenance?.status).toBe('unofficial');
    } finally {
      se.mockRestore();
      if (prev === undefined) delete process.env.OPULAB_ALLOW_UNOFFICIAL_DATA;
      else process.env.OPULAB_ALLOW_UNOFFICIAL_DATA = prev;
    }
  });

  test('right size, wrong content: the checksum names the file and the expected digest', () => {
    const dir = truncatedMini(500);
    const file = path.join(dir, 'test_batch.bin');
    const b = fs.readFileSync(file);
    b[5000] ^= 1;
    fs.writeFileSync(file, b);
    expect(() => verifyDataFiles('cifar10-mini', [file], { cacheFile })).toThrow(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: SHA256 [0-9a-f]{64}, expected opulab's cifar10-mini test_batch\\.bin .*1536500 bytes, 500 records, SHA256 ba456e78`),
    );
  });

  test('the verification is cached by size + mtime + inode: an unchanged file is not hashed again, a touched one is', () => {
    const dir = truncatedMini(500);
    const file = path.join(dir, 'test_batch.bin');
    const own = path.join(tmp, 'own-cache.json');
    const when = new Date('2026-01-01T00:00:00Z'); // a whole second, so that it can be restored exactly
    fs.utimesSync(file, when, when);
    expect(verifyDataFiles('cifar10-mini', [file], { cacheFile: own }).status).toBe('official-prefix');
    const cache = JSON.parse(fs.readFileSync(own, 'utf8')) as Record<string, { hex: string; size: number }[]>;
    expect(cache[file]).toEqual([expect.objectContaining({ algorithm: 'sha256', size: 1536500, hex: 'ba456e78b292ef2a6e366d304e587255370906951905b2e06af8e9f54f412f62' })]);
    // change a byte but keep size and mtime: the cached digest is used (proof that no hash was computed)
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([1]), 0, 1, 7000);
    fs.closeSync(fd);
    fs.utimesSync(file, when, when);
    expect(verifyDataFiles('cifar10-mini', [file], { cacheFile: own }).status).toBe('official-prefix');
    // a new mtime: hashed again, and the change is caught
    fs.utimesSync(file, when, new Date(when.getTime() + 5000));
    expect(() => verifyDataFiles('cifar10-mini', [file], { cacheFile: own })).toThrow(/SHA256 [0-9a-f]{64}, expected/);
  });

  test('the shared copies: full CIFAR-10 is official, cifar10-mini and CIFAR-100 train-10k.bin are verified prefixes', () => {
    const c10 = loadDataset('cifar10', 'test', { dataDir: data(), limit: 10 });
    expect(c10.provenance).toMatchObject({ status: 'official', official: true, files: [{ status: 'official', md5: '803d5f7f4d78ea53de84dbe85f74fb6d' }] });
    expect(loadDataset('cifar10-mini', 'train', { dataDir: data(), limit: 10 }).provenance).toMatchObject({ status: 'official-prefix', official: false });
    expect(loadDataset('cifar100', 'train', { dataDir: data(), limit: 10 }).provenance).toMatchObject({
      status: 'official-prefix',
      files: [{ file: path.join(data(), 'cifar-100-binary', 'train-10k.bin'), status: 'official-prefix' }],
    });
    expect(loadDataset('cifar100', 'test', { dataDir: data(), limit: 10 }).provenance?.status).toBe('official');
  });
});

(DATA && fs.existsSync(cli) ? describe : describe.skip)('every command that reads data refuses a wrong file (CLI, exit 2, one line)', () => {
  const env = { ...process.env, OPULAB_CACHE_DIR: path.join(tmp, 'cache'), OPULAB_ALLOW_UNOFFICIAL_DATA: '' };
  const opulab = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [cli, ...args, '--backend', 'wasm', '--workers', '1', '--no-download'], { encoding: 'utf8', env, timeout: 240000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const ckpt = path.join(tmp, 'ckpt');
  const tiny = ['--model', 'vgg11', '--width', '0.125', '--dataset', 'cifar10-mini', '--train-samples', '64', '--test-samples', '32', '--batch-size', '32', '--epochs', '1'];

  test('train, attack, run and data on a test_batch.bin truncated to 400 records: exit 2, one line, nothing written', () => {
    const ok = opulab(['train', ...tiny, '--data-dir', data(), '--out', ckpt]);
    expect(ok.status).toBe(0);
    const bad = truncatedMini(400);
    const file = path.join(bad, 'test_batch.bin');
    const expected = `opulab: ${file}: 1229200 bytes, expected opulab's cifar10-mini test_batch.bin`;
    const spec = path.join(tmp, 'spec.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        name: 'i', seed: 0, dataset: 'cifar10-mini', data: { trainSamples: 32, testSamples: 32, attackSamples: 8, evalBatchSize: 16 },
        models: [{ name: 'm', architecture: 'vgg11', width: 0.125, defense: 'none', training: 'bp', train: { epochs: 1, optimizer: 'adam', batchSize: 16 } }],
        attacks: [{ attack: 'fgsm', eps: ['8/255'] }],
      }),
    );
    const cases: [string, string[], string][] = [
      ['attack', ['attack', '--checkpoint', ckpt, '--attack', 'fgsm', '--eps', '8/255', '--samples', '16', '--data-dir', bad, '--out', path.join(tmp, 'a.json')], path.join(tmp, 'a.json')],
      ['train', ['train', ...tiny, '--data-dir', bad, '--out', path.join(tmp, 'ck2')], path.join(tmp, 'ck2')],
      ['run', ['run', spec, '--data-dir', bad, '--out', path.join(tmp, 'run')], path.join(tmp, 'run', 'results.json')],
      ['transfer', ['transfer', '--source', ckpt, '--targets', ckpt, '--attack', 'fgsm', '--eps', '8/255', '--samples', '16', '--data-dir', bad, '--out', path.join(tmp, 't.json')], path.join(tmp, 't.json')],
      ['probe', ['probe', '--checkpoint', ckpt, '--samples', '8', '--data-dir', bad, '--out', path.join(tmp, 'p.json')], path.join(tmp, 'p.json')],
    ];
    for (const [name, args, output] of cases) {
      const r = opulab(args);
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('opulab: backend'));
      process.stdout.write(`integrity case "${name}": exit ${r.status}; ${lines.join(' / ')}\n`);
      expect([name, r.status]).toEqual([name, 2]);
      expect(lines).toEqual([expect.stringContaining(expected)]);
      expect(fs.existsSync(output)).toBe(false);
    }
    const d = opulab(['data', '--dataset', 'cifar10-mini', '--data-dir', bad]);
    expect(d.status).toBe(2);
    expect(d.stderr).toContain(`opulab: ${file}: sha256`);

    // with the explicit flag the same attack runs, and results.json records that the data was not the official set
    const out = path.join(tmp, 'allowed.json');
    const allowed = opulab(['attack', '--checkpoint', ckpt, '--attack', 'fgsm', '--eps', '8/255', '--samples', '16', '--data-dir', bad, '--out', out, '--allow-unofficial-data']);
    expect(allowed.status).toBe(0);
    expect(allowed.stderr).toMatch(/warning: .*test_batch\.bin: 1229200 bytes, expected .*; using it \(unofficial data allowed\)/);
    const res = JSON.parse(fs.readFileSync(out, 'utf8')) as ResultsFile;
    expect(res.environment.data).toMatchObject({ status: 'unofficial', official: false, files: [{ file, bytes: 1229200, status: 'unofficial' }] });
  }, 300000);
});
