/** `opulab attack`: attack a trained checkpoint at a list of epsilons; appends runs to a results.json. */
import * as fs from 'fs';
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, workerCount, parseParamsJson, withGradientOptions, checkAttackFlags, withEngineOption, engineOf } from '../options';
import { checkGradientModeText, resolveGradientMode } from '../../models/classifier';
import { loadDataset, parseDatasetName, prepareDataset } from '../../../datasets';
import { loadNetwork, evaluate } from '../../training/trainer';
import { modelId } from '../../models/config';
import { runAttackOnModel, AttackRequest } from '../../experiments/execute';
import { appendAttackRuns } from '../append-runs';
import { startEvalPool } from '../../parallel/evaluate-parallel';
import type { WorkerPool } from '../../parallel/pool';
import { defenseFields } from '../../experiments/model-record';
import { loadResultsFile } from '../../../reports/load';
import { emptyResults, environmentInfo, recordDataProvenance } from '../../results/environment';
import { ResultsFile } from '../../results/schema';
import { UserError } from '../../util/errors';
import { progress } from '../../util/progress';
import { attackNames, defaultNorm } from '../../../attacks/registry';
import { parseEps } from '../../../attacks/eps';
import { ATTACK_PRESETS, PRESET_NAMES, getPreset } from '../../../attacks/presets';
import { attackParamSummary } from '../../../attacks/param-docs';
import { attackModelFile, modelFileRef, rejectStrayModelFlags, withModelFileOptions, type ModelFileArgs } from './model-file';

export interface AttackArgs extends GlobalArgs, ModelFileArgs {
  checkpoint?: string;
  attack?: string;
  preset?: string;
  eps: string;
  epsSpace: string;
  norm?: string;
  steps?: number;
  stepSize?: string;
  restarts?: number;
  randomStart?: boolean;
  loss?: string;
  queries?: number;
  params?: string;
  gradient: string;
  signSurrogate: string;
  eot: number;
  samples: number;
  batchSize: number;
  out: string;
  engine?: string;
}

/** Attack hyperparameters from the CLI flags that were given (absent flags keep the attack's defaults). */
export function paramsFromFlags(a: AttackArgs): Record<string, unknown> {
  const p = parseParamsJson(a.params);
  if (a.steps !== undefined) p.steps = a.steps;
  // the step size is given in the same units as eps (converted to pixels with the eps, see execute.ts)
  if (a.stepSize !== undefined) p.stepSize = parseEps(a.stepSize);
  if (a.restarts !== undefined) p.restarts = a.restarts;
  if (a.randomStart !== undefined) p.randomStart = a.randomStart;
  if (a.loss !== undefined) p.loss = a.loss;
  if (a.queries !== undefined) p.maxQueries = a.queries;
  return p;
}

export const attackCommand: CommandModule<GlobalArgs, AttackArgs> = {
  command: 'attack',
  describe: 'Attack a trained checkpoint (or a model file) at one or more epsilons; appends the runs to a results.json',
  builder: (y) =>
    withModelFileOptions(withEngineOption(withGradientOptions(y)))
      .option('checkpoint', { type: 'string', describe: 'Checkpoint directory (from opulab train); or give --model FILE' })
      .option('dataset', { type: 'string', describe: 'With --model: the test set attacked (default cifar10); a checkpoint uses its own' })
      .option('attack', { type: 'string', describe: `Attack name (${attackNames().join(', ')}) or a plugin file` })
      .option('preset', { type: 'string', describe: `A fixed protocol instead of --attack: ${PRESET_NAMES.map((n) => `${n} (${ATTACK_PRESETS[n].description})`).join('; ')}` })
      .option('eps', { type: 'string', default: '8/255', describe: "Comma-separated epsilons; '8/255' and decimals accepted" })
      .option('eps-space', { type: 'string', default: 'pixel', choices: ['pixel', 'normalized'], describe: 'Units of --eps: pixel ([0,1] images) or normalized (the model input space)' })
      .option('norm', { type: 'string', choices: ['linf', 'l2'], describe: "Threat-model norm (default: the preset's norm for square-l2-autoattack, hsja-l2; else linf)" })
      .option('steps', { type: 'number', describe: 'Iterations (PGD/APGD)' })
      .option('step-size', { type: 'string', describe: 'Step size in --eps-space units (PGD)' })
      .option('restarts', { type: 'number', describe: 'Restarts, best kept per example (PGD/APGD)' })
      .option('random-start', { type: 'boolean', describe: 'Random start inside the eps-ball (PGD/APGD)' })
      .option('loss', { type: 'string', describe: 'Attack loss on logits: ce, dlr, cw' })
      .option('queries', { type: 'number', describe: 'Query budget per example (black-box attacks)' })
      .option('params', { type: 'string', describe: 'Extra attack parameters as JSON' })
      .option('samples', { type: 'number', default: 1000, describe: 'Number of test images (the first N)' })
      .option('batch-size', { type: 'number', default: 100, describe: 'Images per attack batch' })
      .option('out', { type: 'string', default: 'results.json', describe: 'results.json to create or append to' })
      .epilog(attackParamSummary()) as never,
  handler: async (args) => {
    const seed = checkSeed(args);
    const workers = workerCount(args);
    const engine = engineOf(args);
    if (!args.attack === !args.preset) throw new UserError('give exactly one of --attack NAME or --preset NAME');
    if (args.preset) getPreset(args.preset);
    if (!Number.isInteger(args.samples) || args.samples < 1) throw new UserError(`bad --samples ${args.samples}: expected a positive integer`);
    if (!Number.isInteger(args.batchSize) || args.batchSize < 1) throw new UserError(`bad --batch-size ${args.batchSize}: expected a positive integer`);
    if (!args.checkpoint === !args.model) throw new UserError('give exactly one of --checkpoint DIR or --model FILE');
    if (args.model) modelFileRef(args);
    else {
      rejectStrayModelFlags(args);
      if (args.dataset !== undefined) throw new UserError('--dataset applies to --model FILE: a checkpoint is attacked on the dataset it was trained on');
    }
    // plugin files are loaded and trial-run while the inputs are checked: that needs a ready backend (quiet: no line yet)
    await initBackend(args.backend, true);
    if (args.attack) checkAttackFlags({ ...args, params: paramsFromFlags(args) });
    else checkGradientModeText(args.gradient, args.signSurrogate);
    const backend = await initBackend(args.backend);
    const common = { gradient: args.gradient, signSurrogate: args.signSurrogate, eot: args.eot, batchSize: args.batchSize, seed, engine };
    const requests: AttackRequest[] = args.preset
      ? getPreset(args.preset).groups.flatMap((g) =>
          g.attacks.map((a) => ({ ...common, attack: a.attack, params: { ...a.params }, norm: g.norm, eps: g.eps.map(String), epsSpace: g.epsSpace })),
        )
      : [
          {
            ...common,
            attack: args.attack!,
            params: paramsFromFlags(args),
            norm: (args.norm as 'linf' | 'l2' | undefined) ?? defaultNorm(args.attack!),
            eps: args.eps.split(','),
            epsSpace: args.epsSpace as 'pixel' | 'normalized',
          },
        ];
    if (args.model) return attackModelFile(args, requests, { backend: backend.name, workers, seed, engine });
    const { net, meta } = loadNetwork(args.checkpoint!);
    let pool: WorkerPool | undefined;
    try {
      // the mode must be one the model's defense declares (a one-line error listing them, before any data is read)
      resolveGradientMode(net, args.gradient, args.signSurrogate);
      const datasetName = parseDatasetName(String(meta.train.dataset ?? 'cifar10'));
      await prepareDataset(datasetName, { dataDir: args.dataDir, download: args.download });
      const data = loadDataset(datasetName, 'test', { dataDir: args.dataDir, limit: args.samples, seed: Number(meta.train.seed ?? 0) });
      const indices = Array.from({ length: data.n }, (_, i) => i);
      const results: ResultsFile = fs.existsSync(args.out) ? loadResultsFile(args.out) : emptyResults(environmentInfo(backend.name, workers, seed, { engine }));
      recordDataProvenance(results.environment, data.provenance);
      const id = modelId(net.config);
      if (!results.models.some((m) => m.id === id)) {
        const clean = evaluate(net, data, args.batchSize);
        results.models.push({
          id,
          architecture: net.config.architecture,
          ...defenseFields(net),
          training: net.config.training,
          cleanAccuracy: clean.accuracy,
          n: clean.n,
          normalizationStd: net.config.normalization.std,
          checkpoint: path.resolve(args.checkpoint!),
          train: meta.train,
        });
      }
      const dataRef = { name: datasetName, dataDir: args.dataDir, seed: Number(meta.train.seed ?? 0) };
      // one pool of evaluation workers for all the requests (a preset is several)
      if (workers > 1 && requests.length > 1) pool = await startEvalPool(workers, backend.name);
      for (const req of requests) {
        const bar = progress(`${req.attack} on ${id}`, 100);
        const t0 = Date.now();
        const out = await runAttackOnModel(args.checkpoint!, net.config, dataRef, indices, req, workers, (f, m) => bar.update(Math.round(f * 100), m), pool);
        bar.done();
        appendAttackRuns(results, out, args.out, t0);
      }
    } finally {
      net.dispose();
      await pool?.close();
    }
  },
};
