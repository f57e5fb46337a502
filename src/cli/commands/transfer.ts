/** `opulab transfer`: craft adversarial examples on a source checkpoint and score them on target checkpoints. */
import * as fs from 'fs';
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, workerCount, checkAttackFlags, withEngineOption, engineOf } from '../options';
import { loadDataset, parseDatasetName, prepareDataset } from '../../../datasets';
import { loadNetwork, evaluate } from '../../training/trainer';
import { Network } from '../../models/network';
import { modelId } from '../../models/config';
import { runTransfer, attachPerSample, AttackRequest } from '../../experiments/execute';
import { defenseFields } from '../../experiments/model-record';
import { loadResultsFile } from '../../../reports/load';
import { emptyResults, environmentInfo, recordDataProvenance } from '../../results/environment';
import { ResultsFile } from '../../results/schema';
import { writeFileAtomic } from '../../util/atomic';
import { UserError } from '../../util/errors';
import { formatEps } from '../../../attacks/eps';
import { AttackArgs, paramsFromFlags } from './attack';
import type { Classifier } from '../../types';
import type { ImportedModel } from '../../import';
import { checkDataFits, classifierAccuracy, importedModelRecord, importOptionsFromFlags, openModelFile } from '../../experiments/imported';
import { checkModelFile } from '../../import';
import { isModelFile, withModelFileOptions } from './model-file';

export interface TransferArgs extends Omit<AttackArgs, 'checkpoint' | 'gradient' | 'signSurrogate' | 'eot' | 'attack' | 'preset'> {
  attack: string;
  source: string;
  targets: string;
  saveSet?: string;
  loadSet?: string;
}

export const transferCommand: CommandModule<GlobalArgs, TransferArgs> = {
  command: 'transfer',
  describe: 'Craft adversarial examples on a source model and evaluate them on target models (all images and common-correct)',
  builder: (y) =>
    withModelFileOptions(withEngineOption(y), false)
      .option('source', { type: 'string', demandOption: true, describe: 'Source checkpoint or model file (.onnx, or a TensorFlow.js model.json) (crafts the examples with its true gradient)' })
      .option('targets', { type: 'string', demandOption: true, describe: 'Comma-separated target checkpoints or model files (.onnx, TensorFlow.js model.json)' })
      .option('dataset', { type: 'string', describe: "Test set (default: the source checkpoint's; cifar10 for a model file)" })
      .option('attack', { type: 'string', default: 'pgd', describe: 'White-box attack on the source: fgsm, pgd, apgd-ce, mi-fgsm, di-fgsm, ...' })
      .option('eps', { type: 'string', default: '8/255', describe: 'Comma-separated epsilons' })
      .option('eps-space', { type: 'string', default: 'pixel', choices: ['pixel', 'normalized'] })
      .option('norm', { type: 'string', default: 'linf', choices: ['linf', 'l2'] })
      .option('steps', { type: 'number' })
      .option('step-size', { type: 'string' })
      .option('restarts', { type: 'number' })
      .option('random-start', { type: 'boolean' })
      .option('loss', { type: 'string' })
      .option('params', { type: 'string', describe: 'Extra attack parameters as JSON' })
      .option('samples', { type: 'number', default: 1000, describe: 'Number of test images (the first N)' })
      .option('batch-size', { type: 'number', default: 100 })
      .option('save-set', { type: 'string', describe: 'Save the crafted adversarial set here (float32 binary + JSON manifest) for reuse' })
      .option('load-set', { type: 'string', describe: 'Evaluate a saved adversarial set instead of crafting one' })
      .option('out', { type: 'string', default: 'results.json' }) as never,
  handler: async (args) => {
    const seed = checkSeed(args);
    if (!Number.isInteger(args.samples) || args.samples < 1) throw new UserError(`bad --samples ${args.samples}: expected a positive integer`);
    // plugin files are loaded and trial-run while the inputs are checked: that needs a ready backend (quiet: no line yet)
    await initBackend(args.backend, true);
    if (!args.loadSet) checkAttackFlags({ ...args, params: paramsFromFlags({ ...args, checkpoint: args.source, gradient: 'natural', signSurrogate: 'ste', eot: 0 }) });
    const engine = engineOf(args);
    const backend = await initBackend(args.backend);
    const targetDirs = args.targets.split(',').filter((s) => s !== '');
    if (targetDirs.length === 0) throw new UserError(`bad --targets '${args.targets}': expected comma-separated checkpoint directories`);
    // model files (src/import) beside checkpoints: all read with the same --mean/--std/--layout/--classes
    const fileOptions = importOptionsFromFlags(args);
    for (const f of [args.source, ...targetDirs]) if (isModelFile(f)) checkModelFile(f);
    const files: ImportedModel[] = [];
    const open = async (p: string): Promise<Network | Classifier> => {
      if (!isModelFile(p)) return loadNetwork(p).net;
      const m = await openModelFile({ path: p, options: fileOptions }, { engine });
      files.push(m);
      return m.classifier;
    };
    const srcIsFile = isModelFile(args.source);
    const src = srcIsFile ? { net: await open(args.source), meta: { train: {} as Record<string, unknown> } } : loadNetwork(args.source);
    const targets: (Network | Classifier)[] = [];
    try {
      for (const d of targetDirs) targets.push(await open(d));
      const dataset = parseDatasetName(String(args.dataset ?? src.meta.train.dataset ?? 'cifar10'));
      await prepareDataset(dataset, { dataDir: args.dataDir, download: args.download });
      const data = loadDataset(dataset, 'test', { dataDir: args.dataDir, limit: args.samples });
      const indices = Array.from({ length: data.n }, (_, i) => i);
      const req: AttackRequest = {
        attack: args.attack,
        params: paramsFromFlags({ ...args, checkpoint: args.source, gradient: 'natural', signSurrogate: 'ste', eot: 0 }),
        norm: args.norm as 'linf' | 'l2',
        eps: args.eps.split(','),
        epsSpace: args.epsSpace as 'pixel' | 'normalized',
        gradient: 'natural',
        signSurrogate: 'ste',
        eot: 0,
        batchSize: args.batchSize,
        seed,
        engine,
      };
      const results: ResultsFile = fs.existsSync(args.out) ? loadResultsFile(args.out) : emptyResults(environmentInfo(backend.name, workerCount(args), seed, { engine }));
      recordDataProvenance(results.environment, data.provenance);
      for (const m of files) checkDataFits(m, data);
      for (const net of [src.net, ...targets]) {
        if (!(net instanceof Network)) {
          const m = files.find((f) => f.classifier === net)!;
          if (!results.models.some((r) => r.id === net.id)) results.models.push(importedModelRecord(m, await classifierAccuracy(net, data, args.batchSize)));
          continue;
        }
        const id = modelId(net.config);
        if (results.models.some((m) => m.id === id)) continue;
        const ev = evaluate(net, data, args.batchSize);
        results.models.push({ id, architecture: net.config.architecture, ...defenseFields(net), training: net.config.training, cleanAccuracy: ev.accuracy, n: ev.n, normalizationStd: net.config.normalization.std });
      }
      const out = await runTransfer(src.net, targets, data, indices, req, { save: args.saveSet, load: args.loadSet });
      out.runs.forEach((r) => (r.attack = `transfer-${args.attack}`));
      attachPerSample(path.dirname(path.resolve(args.out)), results.runs.length, out);
      results.runs.push(...out.runs);
      writeFileAtomic(args.out, JSON.stringify(results, null, 1));
      for (const r of out.runs) {
        process.stdout.write(
          `${r.source} -> ${r.model} eps ${formatEps(r.eps)}: robust ${(100 * r.robustAccuracy).toFixed(1)}% on all ${r.n}` +
            (r.commonCorrect ? `, ${(100 * r.commonCorrect.robustAccuracy).toFixed(1)}% on ${r.commonCorrect.n} common-correct` : '') +
            '\n',
        );
      }
    } finally {
      for (const n of [src.net, ...targets]) if (n instanceof Network) n.dispose();
      files.forEach((m) => m.dispose());
    }
  },
};
