/**
 * The embedded default experiment of `opulab demo`: a baseline and an optical hybrid small VGG on CIFAR-10 (or the
 * synthetic set when CIFAR-10 is not found), attacked by white-box (FGSM, PGD, APGD; natural, BPDA random-matrix and
 * BPDA true-matrix gradients; PGD at 2x steps for the convergence check; APGD-DLR (true matrix on the defended model, and on the baseline) as the adaptive
 * attack), black-box (Square), decision-based (HopSkipJump), transfer from the baseline, and random noise (C16), sized to finish
 * in under 10 minutes on a 2-core CPU. `--quick` shrinks it further (CI smoke test).
 */
import { ExperimentSpec, parseSpec } from './spec';

export function demoSpec(quick = false): ExperimentSpec {
  const trainSamples = quick ? 512 : 15000;
  const epochs = quick ? 1 : 3;
  const attackSamples = quick ? 16 : 100;
  const eps = ['2/255', '4/255', '8/255'];
  const model = (name: string, defense: string, training: string): Record<string, unknown> => ({
    name,
    architecture: 'vgg11',
    width: 0.25,
    defense,
    training,
    opuIn: 512,
    opuOut: quick ? 1000 : 4000,
    opuMode: 'reference',
    train: { epochs, optimizer: 'adam', lr: 1e-3, batchSize: 64, schedule: 'constant', augment: true, gradShards: 2 },
  });
  const steps = quick ? 3 : 10;
  // two random starts: with one, a weak surrogate (bpda-random) can leave PGD an image above FGSM (check C2)
  const restarts = quick ? 1 : 2;
  return parseSpec(
    {
      name: quick ? 'demo-quick' : 'demo',
      seed: 0,
      dataset: 'cifar10',
      data: { trainSamples, testSamples: quick ? 64 : 500, attackSamples, evalBatchSize: 50 },
      models: [model('baseline', 'none', 'bp'), model('optical', 'optical', 'hybrid')],
      attacks: [
        { attack: 'fgsm', eps, gradients: ['natural', 'bpda-random', 'bpda-true'] },
        { attack: 'pgd', eps, params: { steps, restarts, relStepSize: 0.25, randomStart: true }, gradients: ['natural', 'bpda-random', 'bpda-true'] },
        { attack: 'pgd', eps: ['8/255'], params: { steps: 2 * steps, restarts, relStepSize: 0.25, randomStart: true }, gradients: ['natural', 'bpda-true'] },
        { attack: 'apgd-ce', eps: ['8/255'], params: { steps } },
        // the adaptive attack: through the true matrix on the defended model, and on the baseline so C13 sees it work
        // (DLR through the optical model's natural DFA gradient is weaker than FGSM-CE: C2 would flag it)
        { attack: 'apgd-dlr', eps: ['8/255'], params: { steps: 2 * steps }, gradients: ['bpda-true'], models: ['optical'] },
        { attack: 'apgd-dlr', eps: ['8/255'], params: { steps: 2 * steps }, models: ['baseline'] },
        { attack: 'pgd', label: 'pgd-unbounded', eps: ['0.5'], params: { steps, relStepSize: 0.25, randomStart: true }, samples: Math.min(attackSamples, 50) },
        { attack: 'square', eps: ['8/255'], params: { maxQueries: quick ? 50 : 1000, maxRowsPerCall: 256 }, samples: Math.min(attackSamples, 50) },
        { attack: 'hsja', eps: ['8/255'], params: { maxQueries: quick ? 50 : 3000, maxRowsPerCall: 256 }, samples: Math.min(attackSamples, 20) },
        { attack: 'transfer', source: 'baseline', craft: 'pgd', models: ['optical'], eps, params: { steps, relStepSize: 0.25, randomStart: true } },
        { attack: 'noise', eps: ['8/255'] },
      ],
      probe: { attack: 'pgd', eps: '8/255', params: { steps, relStepSize: 0.25, randomStart: true }, gradient: 'bpda-true', samples: quick ? 16 : 100 },
    },
    'demo spec',
  );
}
