/** `opulab train`: build a model (architecture x defense x training method) and train it; writes a checkpoint. */
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, workerCount } from '../options';
import { loadDataset, parseDatasetName, prepareDataset } from '../../../datasets';
import { DEFENSES, TRAINING_METHODS, ARCHITECTURES, modelId, ModelConfig } from '../../models/config';
import { Network } from '../../models/network';
import { train, TrainConfig } from '../../training/trainer';
import { defaultOptimizerConfig, OPTIMIZERS, OptimizerName } from '../../training/optimizers';
import { defaultScheduleConfig, SCHEDULES, ScheduleName } from '../../training/schedules';
import { UserError } from '../../util/errors';
import { parseParamPairs } from '../../plugins';
import { buildModelConfig } from '../../models/build-config';

export interface TrainArgs extends GlobalArgs {
  model: string;
  width: number;
  defense: string;
  defenseParam?: string[];
  training: string;
  optimizer: string;
  lr?: number;
  weightDecay?: number;
  momentum: number;
  nesterov: boolean;
  schedule: string;
  dataset: string;
  epochs: number;
  batchSize: number;
  gradShards: number;
  trainSamples?: number;
  testSamples?: number;
  opuIn: number;
  opuOut: number;
  opuMode: string;
  binarizeCenter: string;
  augment: boolean;
  resume: boolean;
  out: string;
}

export function modelConfigFromArgs(a: TrainArgs & { numClasses: number; normalization: { mean: number[]; std: number[] } }): ModelConfig {
  return buildModelConfig({ ...a, architecture: a.model, defenseParams: parseParamPairs(a.defenseParam ?? []) });
}

export const trainCommand: CommandModule<GlobalArgs, TrainArgs> = {
  command: 'train',
  describe: 'Train a model (baseline, optical defense or ablation) and write a checkpoint directory',
  builder: (y) =>
    y
      .option('model', { type: 'string', default: 'vgg16', describe: `Backbone: ${ARCHITECTURES.join(', ')}` })
      .option('width', { type: 'number', default: 0.25, describe: 'Channel width multiplier (1 = the paper)' })
      .option('defense', { type: 'string', default: 'none', describe: `Head: ${DEFENSES.join(', ')}, or a defense plugin file (./my-defense.js)` })
      .option('defense-param', { type: 'string', array: true, describe: 'Defense plugin parameter name=value (repeatable)' })
      .option('training', { type: 'string', default: 'bp', describe: `Method: ${TRAINING_METHODS.join(', ')} (hybrid = backprop above the feedback point, DFA below)` })
      .option('optimizer', { type: 'string', default: 'adam', describe: OPTIMIZERS.join(', ') })
      .option('lr', { type: 'number', describe: 'Learning rate (default: 1e-3 adam/adamw/rmsprop, 1e-2 sgd)' })
      .option('weight-decay', { type: 'number', describe: 'Weight decay (default 0; adamw 0.01)' })
      .option('momentum', { type: 'number', default: 0.9, describe: 'SGD/RMSprop momentum' })
      .option('nesterov', { type: 'boolean', default: false, describe: 'Nesterov momentum (sgd)' })
      .option('schedule', { type: 'string', default: 'plateau', describe: `LR schedule: ${SCHEDULES.join(', ')}` })
      .option('dataset', { type: 'string', default: 'cifar10', describe: 'cifar10, cifar100, cifar10-mini or synthetic' })
      .option('epochs', { type: 'number', default: 1, describe: 'Epochs (total, when resuming)' })
      .option('batch-size', { type: 'number', default: 128, describe: 'Batch size (reference: 128)' })
      .option('grad-shards', { type: 'number', default: 1, describe: 'Split each batch into N micro-batches (own BatchNorm statistics, gradients averaged); --workers spreads them over threads' })
      .option('train-samples', { type: 'number', describe: 'Use only the first N training images' })
      .option('test-samples', { type: 'number', describe: 'Evaluate on the first N test images each epoch' })
      .option('opu-in', { type: 'number', default: 512, describe: 'OPU input size (head hidden width)' })
      .option('opu-out', { type: 'number', default: 8000, describe: 'OPU output size (camera pixels)' })
      .option('opu-mode', { type: 'string', default: 'reference', describe: "OPU model: 'reference' (real W, (xW)^2) or 'physical' (complex R, |xR|^2)" })
      .option('binarize-center', { type: 'string', default: 'running-mean', choices: ['running-mean', 'batch-mean', 'sample-mean'], describe: "What Sign(x - center) subtracts: 'batch-mean' is the reference's (batch-dependent predictions)" })
      .option('augment', { type: 'boolean', default: true, describe: 'Random crop + flip (+ rotation on CIFAR-100)' })
      .option('resume', { type: 'boolean', default: true, describe: 'Continue from the checkpoint in --out when present' })
      .option('out', { type: 'string', demandOption: true, describe: 'Checkpoint directory' }) as never,
  handler: async (args) => {
    const seed = checkSeed(args);
    // Validate every name and number before touching data or the backend (a plugin file is read and checked
    // here; its hooks run once the backend exists, when the Network is built).
    modelConfigFromArgs({ ...args, seed, numClasses: 10, normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
    const datasetName = parseDatasetName(args.dataset);
    if (!Number.isInteger(args.epochs) || args.epochs < 1) throw new UserError(`bad --epochs ${args.epochs}: expected a positive integer`);
    if (!Number.isInteger(args.batchSize) || args.batchSize < 1) throw new UserError(`bad --batch-size ${args.batchSize}: expected a positive integer`);
    defaultScheduleConfig(args.schedule as ScheduleName);
    const optimizer = defaultOptimizerConfig(args.optimizer as OptimizerName, {
      ...(args.lr !== undefined ? { lr: args.lr } : {}),
      ...(args.weightDecay !== undefined ? { weightDecay: args.weightDecay } : {}),
      momentum: args.momentum,
      nesterov: args.nesterov,
    });
    const backend = await initBackend(args.backend);
    await prepareDataset(datasetName, { dataDir: args.dataDir, download: args.download });
    const trainSet = loadDataset(datasetName, 'train', { dataDir: args.dataDir, limit: args.trainSamples, seed });
    const testSet = loadDataset(datasetName, 'test', { dataDir: args.dataDir, limit: args.testSamples, seed });
    process.stderr.write(`dataset ${trainSet.name}: ${trainSet.n} train / ${testSet.n} test images from ${trainSet.source}\n`);
    const config = modelConfigFromArgs({ ...args, seed, numClasses: trainSet.numClasses, normalization: trainSet.normalization });
    const schedule = defaultScheduleConfig(args.schedule as ScheduleName, { epochs: args.epochs });
    const cfg: TrainConfig = { epochs: args.epochs, batchSize: args.batchSize, optimizer, schedule, augment: args.augment, seed, gradShards: args.gradShards };
    const net = new Network(config);
    try {
      const r = await train(net, trainSet, testSet, cfg, {
        checkpointDir: args.out,
        resume: args.resume,
        workers: workerCount(args),
        meta: { dataset: trainSet.name, datasetSource: trainSet.source, data: trainSet.provenance?.status, backend: backend.name },
      });
      const last = r.history[r.history.length - 1];
      process.stdout.write(
        `${modelId(config)}: ${r.epochsDone} epochs, test accuracy ${(100 * (last?.testAccuracy ?? NaN)).toFixed(2)}% on ${testSet.n} images, ` +
          `${r.imgPerSec.toFixed(1)} img/s (${backend.name}); checkpoint ${args.out}\n`,
      );
    } finally {
      net.dispose();
    }
  },
};
