/**
 * The two example defenses in examples/plugins/ reproduce their known results on a small model trained on the
 * real CIFAR-10 mini set (vgg11 at width 1/8, one epoch; the numbers are seeded, so they are the same each run):
 *   - bit-depth reduction (feature squeezing, Xu et al. 2018) keeps its accuracy under the natural gradient
 *     (rounding has a zero gradient) and falls under the straight-through BPDA mode (Athalye et al. 2018);
 *   - random resize-and-pad (Xie et al. 2018) is flagged stochastic, check C9 fails a white-box run without EOT,
 *     and PGD with EOT is stronger than PGD without (one gradient sample per step).
 */
import * as fs from 'fs';
import * as path from 'path';
import { runCli as run } from './helpers/cli';
import { ResultsFile } from '../src/results/schema';
import { sharedDataDir } from './helpers/shared-data';
import { tempDir } from './helpers/tmp';

const DATA = sharedDataDir();
if (!DATA) console.warn('examples-defenses: real CIFAR copy not found (set OPULAB_DATA_DIR); skipping');
const withData = DATA ? describe : describe.skip;

const tmp = tempDir('opulab-example-def-');
const EXAMPLES = path.join(__dirname, '..', 'examples', 'plugins');

const common = (): string[] => ['--backend', 'wasm', '--seed', '1', '--workers', '1', '--data-dir', DATA as string];
const model = ['--model', 'vgg11', '--width', '0.125', '--opu-in', '64', '--dataset', 'cifar10-mini', '--epochs', '1', '--batch-size', '32'];

async function trainWith(plugin: string, out: string): Promise<void> {
  const t = await run(['train', ...model, '--defense', path.join(EXAMPLES, plugin), '--out', out, ...common()]);
  expect(t.err).not.toMatch(/internal error/);
  expect(t.code).toBe(0);
}

async function attack(ck: string, out: string, extra: string[]): Promise<ResultsFile> {
  const a = await run(['attack', '--checkpoint', ck, '--attack', 'pgd', '--eps', '8/255', '--steps', '5', '--samples', '100', '--batch-size', '50', '--out', out, ...extra, ...common()]);
  expect(a.err).not.toMatch(/internal error/);
  expect(a.code).toBe(0);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as ResultsFile;
}

withData('example defense plugins reproduce their known results (CIFAR-10 mini)', () => {
  it('bit-depth reduction: robust under the natural gradient (masked), broken by straight-through BPDA', async () => {
    const ck = path.join(tmp, 'bit-depth');
    await trainWith('bit-depth-defense.js', ck);
    const out = path.join(tmp, 'bd', 'results.json');
    await attack(ck, out, ['--gradient', 'natural']);
    const r = await attack(ck, out, ['--gradient', 'bpda-none']);
    const [natural, bpda] = r.runs;
    expect([natural.gradient, bpda.gradient]).toEqual(['natural', 'bpda-none']);
    expect(natural.cleanAccuracy).toBeGreaterThan(0.12); // above chance (10 classes)
    // zero gradient through the rounding: PGD gets (almost) nowhere
    expect(natural.robustAccuracy).toBeGreaterThanOrEqual(natural.cleanAccuracy - 0.03);
    expect(natural.gradientStats?.zeroFraction).toBeGreaterThan(0.99);
    // straight-through: the same PGD removes most of the accuracy
    expect(bpda.robustAccuracy).toBeLessThan(bpda.cleanAccuracy / 3);
    expect(r.models[0]).toMatchObject({ defense: 'bit-depth', stochastic: false, defenseInfo: { params: { bits: 5 } } });
    // the report's gradient-masking check sees it: the natural gradient is masked, and a BPDA run exists
    const { computeChecks } = await import('../reports/checks');
    const { loadResultsFile, perSampleLoaderFor } = await import('../reports/load');
    const c11 = computeChecks(loadResultsFile(out), perSampleLoaderFor(out)).find((c) => c.id === 'C11')!;
    expect(c11.status).toBe('warn');
    expect(c11.detail).toMatch(/the natural gradient is masked/);
  });

  it('random resize-and-pad: stochastic, C9 asks for EOT, PGD with EOT is stronger than without', async () => {
    const ck = path.join(tmp, 'resize-pad');
    await trainWith('random-resize-pad-defense.js', ck);
    const out = path.join(tmp, 'rp', 'results.json');
    // one gradient sample per step ("without EOT") vs the mean over 6 transformations; both runs score their
    // adversarial images the same way (majority vote over 10 random passes), so only the attack differs
    await attack(ck, out, ['--eot', '1']);
    const r = await attack(ck, out, ['--eot', '6']);
    const [plain, eot] = r.runs;
    expect(r.models[0]).toMatchObject({ defense: 'random-resize-pad', stochastic: true });
    expect(plain.eot).toEqual({ samples: 1, evalPasses: 10 });
    expect(eot.eot).toEqual({ samples: 6, evalPasses: 10 });
    expect(eot.robustAccuracy).toBeLessThan(plain.robustAccuracy);
    const { computeChecks } = await import('../reports/checks');
    const { loadResultsFile, perSampleLoaderFor } = await import('../reports/load');
    const c9 = computeChecks(loadResultsFile(out), perSampleLoaderFor(out)).find((c) => c.id === 'C9')!;
    expect(c9.status).toBe('fail');
    expect(c9.detail).toMatch(/vgg11-w0.125-random-resize-pad-bp is randomized but PGD.* ran EOT with 1 sample; average gradients over >= 2/);
  });
});
