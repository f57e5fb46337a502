/**
 * The library API the way a user gets it: the package is compiled and packed (`npm pack`, so package.json's
 * files/main/types/exports are what is tested), unpacked into a temporary project's node_modules/opulab, and
 * README's "Attacking your own model" script runs there with plain `node` against a TensorFlow.js model trained
 * in this test (the script text is read from README.md, not copied). It must print real PGD and Square results
 * and write results.json, per-example records and the report.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/backend';
import { loadDataset } from '../datasets/load';
import { takeTensors } from '../datasets/batches';
import { tfjsFileHandler } from '../src/import/tfjs-io';
import type { ResultsFile } from '../src/results/schema';
import { sharedDataDir } from './helpers/shared-data';

const ROOT = path.resolve(__dirname, '..');
const DATA = sharedDataDir();
const maybe = DATA ? describe : describe.skip;

/** The fenced block between the library-example markers of README.md. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- library-example:start -->\n```js\n([\s\S]*?)```\n<!-- library-example:end -->/.exec(readme);
  if (!m) throw new Error('README.md has no library-example block');
  return m[1];
}

/** Compile into a copy of the package, `npm pack` it, unpack it as node_modules/opulab of a fresh project. */
function installPackage(tmp: string): string {
  const pkgDir = path.join(tmp, 'pkg');
  fs.mkdirSync(pkgDir);
  for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(ROOT, f), path.join(pkgDir, f));
  for (const d of ['docs', 'native']) fs.cpSync(path.join(ROOT, d), path.join(pkgDir, d), { recursive: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', path.join(pkgDir, 'dist')], { stdio: 'pipe' });
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--offline', '--json', '--pack-destination', tmp], { cwd: pkgDir, encoding: 'utf8' });
  const tarball = path.join(tmp, (JSON.parse(packed) as { filename: string }[])[0].filename);
  const user = path.join(tmp, 'user');
  const installed = path.join(user, 'node_modules', 'opulab');
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  // opulab's dependencies (and the user's own @tensorflow/tfjs-layers) resolve to the installed copies
  for (const dep of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (dep === 'opulab' || dep.startsWith('.')) continue;
    fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(user, 'node_modules', dep));
  }
  return user;
}

/** A small MLP on (x - 0.5) / 0.5 pixels, trained briefly on CIFAR-10 train images; logits out. */
async function trainModel(file: string): Promise<void> {
  await initBackend('wasm', true);
  const train = loadDataset('cifar10', 'train', { dataDir: DATA!, limit: 2000 });
  const { x, y } = takeTensors(train, [...train.labels.keys()]);
  const xs = tf.tidy(() => tf.div(tf.sub(x, 0.5), 0.5));
  const ys = tf.oneHot(y, 10);
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [32, 32, 3] }));
  m.add(tfl.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }) }));
  m.add(tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  await m.fit(xs, ys, { epochs: 8, batchSize: 100, shuffle: false, verbose: 0 });
  await m.save(tfjsFileHandler(file));
  tf.dispose([x, y, xs, ys]);
  m.dispose();
}

maybe('the packed library, used from a script (README example)', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-lib-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('installs, and the README script attacks a TensorFlow.js model with PGD and Square', async () => {
    const user = installPackage(tmp);
    const pkg = JSON.parse(fs.readFileSync(path.join(user, 'node_modules', 'opulab', 'package.json'), 'utf8')) as { main: string; types: string };
    expect(fs.existsSync(path.join(user, 'node_modules', 'opulab', pkg.main))).toBe(true);
    const dts = fs.readFileSync(path.join(user, 'node_modules', 'opulab', pkg.types), 'utf8');
    for (const name of ['loadTfjsClassifier', 'fromTfjsModel', 'loadCheckpoint', 'evaluateAttack', 'computeChecks', 'writeReport', 'Pgd', 'SquareAttack', 'OrtClassifier']) {
      expect(dts).toContain(name);
    }
    expect(fs.existsSync(path.join(user, 'node_modules', 'opulab', 'dist', 'test'))).toBe(false);

    await trainModel(path.join(user, 'tfjs_model', 'model.json'));
    fs.writeFileSync(path.join(user, 'attack.js'), readmeExample());
    const stdout = execFileSync(process.execPath, ['attack.js', 'tfjs_model/model.json'], {
      cwd: user,
      encoding: 'utf8',
      env: { ...process.env, OPULAB_DATA_DIR: DATA! },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { attack: string; clean: number; robust: number });
    expect(lines.map((l) => l.attack)).toEqual(['pgd', 'square']);
    const [pgd, square] = lines;
    // a trained model (chance is 0.1) that both attacks break: PGD almost entirely, Square clearly
    expect(pgd.clean).toBeGreaterThan(0.2);
    expect(square.clean).toBe(pgd.clean);
    expect(pgd.robust).toBeLessThanOrEqual(0.05);
    expect(square.robust).toBeLessThan(square.clean / 2);
    expect(stdout).toContain(`report: out${path.sep}report.html`);

    const results = JSON.parse(fs.readFileSync(path.join(user, 'out', 'results.json'), 'utf8')) as ResultsFile;
    expect(results.runs.map((r) => [r.attack, r.n, r.model])).toEqual([
      ['pgd', 100, 'tfjs_model'],
      ['square', 100, 'tfjs_model'],
    ]);
    expect(results.runs[1].queries!.mean).toBeGreaterThan(1);
    expect(results.checks.find((c) => c.id === 'C1')).toBeDefined();
    const perSample = fs.readFileSync(path.join(user, 'out', results.runs[0].perSample!), 'utf8').trim().split('\n');
    expect(perSample).toHaveLength(100);
    const fooled = perSample.map((l) => JSON.parse(l) as { success: boolean; perturbationNorm: number });
    expect(Math.max(...fooled.map((r) => r.perturbationNorm))).toBeLessThanOrEqual(8 / 255 + 1e-6);
    expect(fs.readFileSync(path.join(user, 'out', 'report.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/i);
  });
});
