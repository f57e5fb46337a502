/** `opulab list`: models, defenses, attacks, datasets and backends (built-in and plugins), one line each. */
import type { CommandModule } from 'yargs';
import { GlobalArgs } from '../options';
import { initBackend } from '../../backend';
import { ARCHITECTURES, DEFENSES, TRAINING_METHODS } from '../../models/config';
import { describeAttacks } from '../../../attacks/registry';
import { describeDatasets } from '../../../datasets';
import { GRADIENT_MODES } from '../../models/classifier';
import { OPTIMIZERS } from '../../training/optimizers';
import { listPlugins, loadAttackPlugin, loadDefensePlugin } from '../../plugins';

const DEFENSE_TEXT: Record<string, string> = {
  none: 'undefended baseline head: Dropout, Dense, ReLU, Dropout, Dense(512), ReLU, Dense',
  optical: 'optical head: Dense, ReLU, [DFA feedback], Sign(x - mean), OPU |xR|^2, ReLU, Dense (REFERENCE.md §1)',
  'dfa-only': 'ablation: DFA-trained head without binarization or random projection',
  'dfa-binarize': 'ablation: DFA + Sign binarization, no random projection',
  'dfa-projection': 'ablation: DFA + fixed random projection (OPU intensity), no binarization',
};

function backendLine(): string {
  const has = (pkg: string): boolean => {
    try {
      require.resolve(pkg);
      return true;
    } catch {
      return false;
    }
  };
  const tensorflow = has('@tensorflow/tfjs-node-gpu') ? 'tfjs-node-gpu installed' : has('@tensorflow/tfjs-node') ? 'tfjs-node installed' : 'not installed';
  return [`backend  tensorflow  native TensorFlow (${tensorflow})`, 'backend  wasm        XNNPACK + opulab training kernels (default when tensorflow is absent)', 'backend  cpu         pure JavaScript (slow; tests)'].join('\n');
}

export interface ListArgs extends GlobalArgs {
  defensePlugin?: string[];
  attackPlugin?: string[];
}

export const listCommand: CommandModule<GlobalArgs, ListArgs> = {
  command: 'list',
  describe: 'List models, defenses, training methods, attacks, gradient modes, datasets and backends (and plugins)',
  builder: (y) =>
    y
      .option('defense-plugin', { type: 'string', array: true, describe: 'Also load and list this defense plugin file (repeatable)' })
      .option('attack-plugin', { type: 'string', array: true, describe: 'Also load and list this attack plugin file (repeatable)' }) as never,
  handler: async (args) => {
    // plugin files are loaded and trial-run while the inputs are checked: that needs a ready backend (quiet: no line yet)
    await initBackend(args.backend, true);
    for (const f of args.defensePlugin ?? []) loadDefensePlugin(f);
    for (const f of args.attackPlugin ?? []) loadAttackPlugin(f);
    const lines: string[] = [];
    for (const m of ARCHITECTURES) lines.push(`model    ${m.padEnd(10)}  ${m.startsWith('repvgg') ? 'CIFAR RepVGG (train-time branches, fused for deployment)' : 'CIFAR VGG with BatchNorm'}, --width multiplier`);
    for (const d of DEFENSES) lines.push(`defense  ${d.padEnd(14)}  ${DEFENSE_TEXT[d]}`);
    // attack plugins are in the attack registry and listed with the attacks below
    for (const p of listPlugins().filter((q) => q.kind !== 'attack')) lines.push(`${p.kind.padEnd(8)} ${p.name.padEnd(14)}  ${p.description} [plugin ${p.path}]`);
    for (const t of TRAINING_METHODS) lines.push(`training ${t}`);
    for (const o of OPTIMIZERS) lines.push(`optimizer ${o}`);
    for (const a of describeAttacks()) lines.push(`attack   ${a.name.padEnd(22)}  ${a.description}${a.origin !== 'built-in' ? ` [${a.origin}]` : ''}`);
    for (const g of GRADIENT_MODES) lines.push(`gradient ${g}`);
    for (const d of describeDatasets()) lines.push(`dataset  ${d.name.padEnd(13)}  ${d.description}`);
    lines.push(backendLine());
    process.stdout.write(lines.join('\n') + '\n');
  },
};
