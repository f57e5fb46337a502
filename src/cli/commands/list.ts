/** `opulab list`: models, defenses, attacks, datasets and backends (built-in and plugins), one line each. */
import type { CommandModule } from 'yargs';
import { GlobalArgs } from '../options';
import { ARCHITECTURES, TRAINING_METHODS, TrainingMethod } from '../../models/config';
import { initBackend } from '../../backend';
import { builtinDefenses } from '../../../defenses/registry';
import { BPDA_ESTIMATED, BPDA_NONE, BPDA_RANDOM, BPDA_TRUE, NATURAL, TRUE } from '../../../defenses/gradient-modes';
import type { Defense } from '../../../defenses/types';
import { describeAttacks } from '../../../attacks/registry';
import { paramListing } from '../../../attacks/param-docs';
import { describeDatasets } from '../../../datasets';
import { OPTIMIZERS } from '../../training/optimizers';
import { loadAttackPlugin, loadDefensePlugin } from '../../plugins';

const BUILTIN_GRADIENT_MODES = [NATURAL, TRUE, BPDA_RANDOM, BPDA_TRUE, BPDA_ESTIMATED, BPDA_NONE];

/** "natural, true (dfa/hybrid), bpda-none": the modes a defense declares, `true` marked where it needs DFA training. */
function modesLine(d: Defense): string {
  const ctx = (training: TrainingMethod) => ({ numClasses: 10, training, opuIn: 512, opuOut: 8000, opuMode: 'reference' as const, binarizeCenter: 'running-mean' as const });
  const bp = d.gradientModes(ctx(d.training ?? 'bp')).map((m) => m.name);
  const dfa = d.training ? bp : d.gradientModes(ctx('hybrid')).map((m) => m.name);
  const all = [...new Set([...bp, ...dfa])];
  return all.map((n) => (bp.includes(n) ? n : `${n} (dfa/hybrid)`)).map((n) => (n.startsWith('bpda-estimated') ? n.replace('bpda-estimated', 'bpda-estimated[:N]') : n)).join(', ');
}

function defenseLine(d: Defense): string {
  const where = d.source.kind === 'file' ? ` [plugin ${d.source.path}]` : '';
  return `defense  ${d.name.padEnd(14)}  ${d.describe}${where}; gradients: ${modesLine(d)}`;
}

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
  params?: boolean;
}

export const listCommand: CommandModule<GlobalArgs, ListArgs> = {
  command: 'list',
  describe: 'List models, defenses, training methods, attacks, gradient modes, datasets and backends (and plugins)',
  builder: (y) =>
    y
      .option('defense-plugin', { type: 'string', array: true, describe: 'Also load and list this defense plugin file (repeatable)' })
      .option('attack-plugin', { type: 'string', array: true, describe: 'Also load and list this attack plugin file (repeatable)' })
      .option('params', { type: 'boolean', default: false, describe: "Under each attack, its parameters: name, type, default, range, meaning (from the attack's schema)" }) as never,
  handler: async (args) => {
    // Loading a defense plugin runs its hooks once on a tiny batch, which needs an initialised tfjs backend.
    if (args.defensePlugin?.length) await initBackend(args.backend, true);
    const plugins = (args.defensePlugin ?? []).map((f) => loadDefensePlugin(f).defense);
    for (const f of args.attackPlugin ?? []) loadAttackPlugin(f);
    const lines: string[] = [];
    for (const m of ARCHITECTURES) lines.push(`model    ${m.padEnd(10)}  ${m.startsWith('repvgg') ? 'CIFAR RepVGG (train-time branches, fused for deployment)' : 'CIFAR VGG with BatchNorm'}, --width multiplier`);
    for (const d of [...builtinDefenses(), ...plugins]) lines.push(defenseLine(d));
    // attack plugins are in the attack registry and listed with the attacks below
    for (const t of TRAINING_METHODS) lines.push(`training ${t}`);
    for (const o of OPTIMIZERS) lines.push(`optimizer ${o}`);
    for (const a of describeAttacks()) {
      lines.push(`attack   ${a.name.padEnd(22)}  ${a.description}${a.origin !== 'built-in' ? ` [${a.origin}]` : ''}`);
      // a preset's parameters are its attack's (listed there); a plugin that declares none has nothing to list
      if (args.params && a.origin !== 'built-in preset') lines.push(...(a.params ? paramListing(a.params, '           ') : ['           (parameters not declared: see the plugin)']));
    }
    for (const g of BUILTIN_GRADIENT_MODES) lines.push(`gradient ${(g.argument ? `${g.name}[:N]` : g.name).padEnd(20)}  ${g.surrogate}`);
    for (const d of describeDatasets()) lines.push(`dataset  ${d.name.padEnd(13)}  ${d.description}`);
    lines.push(backendLine());
    process.stdout.write(lines.join('\n') + '\n');
  },
};
