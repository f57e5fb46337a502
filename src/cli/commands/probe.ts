/**
 * `opulab probe --checkpoint CKPT | --model FILE --attack pgd --eps 8/255 [--samples N] --out probe.json`: layer-similarity
 * probe (Pearson correlation of per-example features, layer by layer) of clean vs adversarial images and of
 * same-/different-class image pairs. probe.json holds the reports/extras.ts `probe` section ({layers, curves}):
 * put it under results.extras.probe to show it in the report.
 */
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed, parseParamsJson, withGradientOptions, checkAttackFlags, withEngineOption, engineOf } from '../options';
import { writeFileAtomic } from '../../util/atomic';
import { runProbe } from '../../probe/run';
import { UserError } from '../../util/errors';
import { checkModelFile } from '../../import';
import { importOptionsFromFlags } from '../../experiments/imported';
import { rejectStrayModelFlags, withModelFileOptions, type ModelFileArgs } from './model-file';

export interface ProbeArgs extends GlobalArgs, Omit<ModelFileArgs, 'model'> {
  checkpoint?: string[];
  model?: string[];
  attack: string;
  eps: string;
  steps?: number;
  params?: string;
  gradient: string;
  signSurrogate: string;
  eot: number;
  samples: number;
  batchSize: number;
  dataset?: string;
  out: string;
  engine?: string;
}

export const probeCommand: CommandModule<GlobalArgs, ProbeArgs> = {
  command: 'probe',
  describe: 'Layer-similarity probe: how far an attack moves low-level vs high-level features, layer by layer',
  builder: (y) =>
    withModelFileOptions(withEngineOption(withGradientOptions(y)), true, true)
      .option('checkpoint', { type: 'string', array: true, describe: 'Checkpoint directory (repeat to compare models; they are compared on the layers they share)' })
      .option('attack', { type: 'string', default: 'pgd', describe: 'Attack name or plugin file that crafts the adversarial images' })
      .option('eps', { type: 'string', default: '8/255', describe: "One eps in pixel units ('8/255' or a decimal)" })
      .option('steps', { type: 'number', describe: 'Attack iterations (PGD/APGD)' })
      .option('params', { type: 'string', describe: 'Extra attack parameters as JSON' })
      .option('samples', { type: 'number', default: 100, describe: 'Test images probed (the first N)' })
      .option('batch-size', { type: 'number', default: 50, describe: 'Images per batch' })
      .option('dataset', { type: 'string', describe: "Dataset (default: the checkpoint's; cifar10 for a model file)" })
      .option('out', { type: 'string', demandOption: true, describe: 'Output JSON (the report extras.probe section)' }) as never,
  handler: async (args) => {
    const seed = checkSeed(args);
    const engine = engineOf(args);
    const checkpoints = args.checkpoint ?? [];
    const models = args.model ?? [];
    if (!checkpoints.length && !models.length) throw new UserError('give --checkpoint DIR or --model FILE (each repeatable, and mixable)');
    // model files (probed after the checkpoints, on their activation/pool/dense layers): all read with the same flags
    if (!models.length) rejectStrayModelFlags({ ...args, model: undefined });
    const options = importOptionsFromFlags(args);
    for (const f of models) checkModelFile(f);
    const params = parseParamsJson(args.params);
    if (args.steps !== undefined) params.steps = args.steps;
    // plugin files are loaded and trial-run while the inputs are checked: that needs a ready backend (quiet: no line yet)
    await initBackend(args.backend, true);
    checkAttackFlags({ ...args, params });
    await initBackend(args.backend);
    const probe = await runProbe({
      checkpoints,
      modelFiles: models.map((f) => ({ path: f, options })),
      attack: args.attack,
      params,
      eps: args.eps,
      gradient: args.gradient,
      signSurrogate: args.signSurrogate,
      eot: args.eot,
      samples: args.samples,
      batchSize: args.batchSize,
      seed,
      dataDir: args.dataDir,
      download: args.download,
      dataset: args.dataset,
      engine,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    writeFileAtomic(args.out, JSON.stringify(probe, null, 1));
    const fmt = (v: number): string => v.toFixed(3).padStart(7);
    for (const c of probe.curves) {
      process.stdout.write(`${c.model} — ${c.attack ?? ''}\n${'layer'.padEnd(16)} clean/adv  same-cls  diff-cls\n`);
      probe.layers.forEach((l, i) => process.stdout.write(`${l.padEnd(16)} ${fmt(c.cleanVsAdv[i])}   ${fmt(c.sameClass[i])}   ${fmt(c.differentClass[i])}\n`));
    }
    process.stdout.write(`wrote ${args.out}\n`);
  },
};
