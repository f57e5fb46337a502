/** `opulab export CHECKPOINT --out model.onnx [--gradient MODE]`: a checkpoint as a standalone ONNX file. */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../backend';
import { GlobalArgs, checkSeed } from '../options';
import { loadNetwork } from '../../training/trainer';
import { exportModel } from '../../engine/export';
import type { EngineLossName } from '../../engine/loss-spec';
import { findDatasetDir } from '../../../datasets/locate';
import { loadDataset, parseDatasetName } from '../../../datasets';
import { writeFileAtomic } from '../../util/atomic';
import { UserError } from '../../util/errors';

export interface ExportArgs extends GlobalArgs {
  checkpoint: string;
  out: string;
  gradient?: string;
  signSurrogate: string;
  loss: string;
  targeted: boolean;
  batch?: number;
}

/** Class names from the checkpoint's dataset when its files are found (else the label numbers). */
function classNames(dataset: string, dataDir: string | undefined): string[] | undefined {
  try {
    const name = parseDatasetName(dataset);
    if (name !== 'synthetic' && !findDatasetDir(name, dataDir)) return undefined;
    return loadDataset(name, 'test', { dataDir, limit: 1 }).classNames;
  } catch {
    return undefined;
  }
}

export const exportCommand: CommandModule<GlobalArgs, ExportArgs> = {
  command: 'export <checkpoint>',
  describe: 'Write a checkpoint as a standalone ONNX file (logits, or logits + loss + input gradient), normalization inside',
  builder: (y) =>
    y
      .positional('checkpoint', { type: 'string', demandOption: true, describe: 'Checkpoint directory (from opulab train)' })
      .option('out', { type: 'string', demandOption: true, describe: 'ONNX file to write' })
      .option('gradient', { type: 'string', describe: 'Also output the input gradient under this mode: natural, true, bpda-random, bpda-true, bpda-estimated[:N], bpda-none' })
      .option('sign-surrogate', { type: 'string', default: 'ste', describe: 'BPDA surrogate for the sign: ste, tanh[:beta], zero' })
      .option('loss', { type: 'string', default: 'ce', choices: ['ce', 'cw', 'dlr'], describe: 'Per-example loss of the gradient graph' })
      .option('targeted', { type: 'boolean', default: false, describe: 'Targeted loss (the labels input holds the targets)' })
      .option('batch', { type: 'number', describe: 'Fixed batch size (default: dynamic)' }) as never,
  handler: async (args) => {
    const seed = checkSeed(args);
    if (!args.out.endsWith('.onnx')) throw new UserError(`bad --out '${args.out}': expected a file name ending in .onnx`);
    if (!fs.existsSync(args.checkpoint)) throw new UserError(`checkpoint '${args.checkpoint}' not found: expected a directory written by opulab train`);
    await initBackend(args.backend, true);
    const { net, meta } = loadNetwork(args.checkpoint);
    try {
      const exported = exportModel(net, {
        gradient: args.gradient,
        signSurrogate: args.signSurrogate,
        loss: args.loss as EngineLossName,
        targeted: args.targeted,
        classNames: classNames(String(meta.train.dataset ?? 'cifar10'), args.dataDir),
        seed,
        batch: args.batch,
      });
      writeFileAtomic(args.out, Buffer.from(exported.bytes));
      process.stdout.write(
        `wrote ${args.out} (${(exported.bytes.length / 1e6).toFixed(1)} MB): ${exported.metadata['opulab.model_id']}` +
          (args.gradient ? `, logits + ${args.loss}${args.targeted ? ' (targeted)' : ''} loss + input gradient (${exported.metadata['opulab.gradient_mode']})` : ', logits') +
          `\n  inputs: ${exported.metadata['opulab.inputs']}\n  outputs: ${exported.metadata['opulab.outputs']}\n`,
      );
    } finally {
      net.dispose();
    }
  },
};
