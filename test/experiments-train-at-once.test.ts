/**
 * `opulab run --workers N` trains up to N models at once, one per worker thread (src/experiments/train-model.ts).
 * The weights must be byte-identical to training them one after another in the process, a complete checkpoint is
 * reused, and a model that fails stops the run with one line that names it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { readJournal, type ModelEntry } from '../src/experiments/store';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const tmp = tempDir('opulab-train-at-once-');

const model = (name: string, extra: Record<string, unknown>): Record<string, unknown> => ({
  name,
  architecture: 'vgg11',
  width: 0.125,
  opuIn: 32,
  train: { epochs: 2, optimizer: 'adam', batchSize: 32, schedule: 'cosine', augment: true },
  ...extra,
});
const spec = {
  name: 'train-at-once',
  seed: 5,
  dataset: 'synthetic',
  data: { trainSamples: 96, testSamples: 32, attackSamples: 8, evalBatchSize: 16 },
  models: [
    model('base', { defense: 'none', training: 'bp' }),
    model('opt', { defense: 'optical', training: 'hybrid', opuOut: 128 }),
    model('abl', { defense: 'dfa-binarize', training: 'hybrid' }),
  ],
  attacks: [],
};

function writeSpec(name: string, s: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(s));
  return file;
}

function opulab(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args, '--backend', 'wasm'], { encoding: 'utf8', timeout: 240000 });
  return { status: r.status, stderr: r.stderr };
}

/** Each checkpoint's weights file, by model name. */
function weights(out: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  const dir = path.join(out, 'checkpoints');
  for (const d of fs.readdirSync(dir)) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, d, 'model.json'), 'utf8')) as { weightsFile: string };
    m.set(d.replace(/-[0-9a-f]{16}$/, ''), fs.readFileSync(path.join(dir, d, meta.weightsFile)));
  }
  return m;
}

function cleanAccuracies(out: string): Record<string, number> {
  const models = readJournal(out).filter((e): e is ModelEntry => e.kind === 'model');
  return Object.fromEntries(models.map((e) => [e.record.name ?? e.record.id, e.record.cleanAccuracy]));
}

const haveCli = fs.existsSync(cli);
(haveCli ? describe : describe.skip)('opulab run trains several models at once', () => {
  if (!haveCli) process.stderr.write(`SKIPPED: ${cli} not built (npm run build)\n`);
  const file = writeSpec('spec.json', spec);
  const one = path.join(tmp, 'one');
  const two = path.join(tmp, 'two');

  it('two workers train the same weights as one process, each model labelled in the log', () => {
    const a = opulab(['run', file, '--out', one, '--workers', '1']);
    expect(a.stderr).not.toMatch(/internal error/);
    expect(a.status).toBe(0);
    expect(a.stderr).not.toMatch(/models, \d at a time/);
    const b = opulab(['run', file, '--out', two, '--workers', '2']);
    expect(b.stderr).not.toMatch(/internal error/);
    expect(b.status).toBe(0);
    expect(b.stderr).toMatch(/training 3 models, 2 at a time on 2 worker threads: base \(2 epochs\), opt \(2 epochs\), abl \(2 epochs\)/);
    for (const name of ['base', 'opt', 'abl']) {
      expect(b.stderr).toMatch(new RegExp(`${name}: epoch 2/2 done in`));
      expect(b.stderr).toMatch(new RegExp(`${name}: trained 2 epochs, test accuracy \\d+\\.\\d%`));
      expect(b.stderr).toMatch(new RegExp(`${name}: reusing checkpoint`));
    }
    const wa = weights(one);
    const wb = weights(two);
    expect([...wb.keys()].sort()).toEqual(['abl', 'base', 'opt']);
    for (const [name, buf] of wa) expect(wb.get(name)!.equals(buf)).toBe(true);
    // the weights differ between models (so equal files above are not an artefact of the comparison)
    expect(wa.get('base')!.equals(wa.get('abl')!)).toBe(false);
    expect(cleanAccuracies(two)).toEqual(cleanAccuracies(one));
  });

  it('a complete checkpoint is reused and the one model left trains in the process', () => {
    const three = path.join(tmp, 'three');
    fs.mkdirSync(path.join(three, 'checkpoints'), { recursive: true });
    for (const d of fs.readdirSync(path.join(one, 'checkpoints')).filter((d) => !d.startsWith('abl-'))) {
      fs.cpSync(path.join(one, 'checkpoints', d), path.join(three, 'checkpoints', d), { recursive: true });
    }
    const r = opulab(['run', file, '--out', three, '--workers', '2']);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/at a time on/);
    expect(r.stderr).toMatch(/base: reusing checkpoint/);
    expect(r.stderr).toMatch(/training abl \(/);
    expect(weights(three).get('abl')!.equals(weights(one).get('abl')!)).toBe(true);
  });

  it('a model whose loss diverges stops the run with exit 2 and one line naming it', () => {
    // the baseline recipe at lr 1e12: its loss is not finite within the first epoch
    const bad = { ...spec, models: [spec.models[1], { ...spec.models[0], name: 'wild', train: { epochs: 2, optimizer: 'sgd', lr: 1e12, batchSize: 32, schedule: 'constant' } }] };
    const out = path.join(tmp, 'bad');
    const r = opulab(['run', writeSpec('bad.json', bad), '--out', out, '--workers', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^opulab: model 'wild': training (loss became|diverged)/m);
    expect(r.stderr).not.toMatch(/internal error|at Object\./);
    // nothing was journaled after the failure
    expect(readJournal(out).filter((e) => e.kind === 'model')).toEqual([]);
  });
});
