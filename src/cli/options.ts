/** Global options every command receives (declared in main.ts). */
import * as os from 'os';
import type { Argv } from 'yargs';
import { UserError } from '../util/errors';
import { GRADIENT_MODES } from '../models/classifier';

export interface GlobalArgs {
  seed: number;
  backend: string;
  workers?: number;
  dataDir?: string;
}

export function workerCount(args: GlobalArgs): number {
  const n = args.workers ?? os.cpus().length;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`bad --workers ${String(args.workers)}: expected a positive integer`);
  return n;
}

export function checkSeed(args: GlobalArgs): number {
  if (!Number.isInteger(args.seed)) throw new UserError(`bad --seed ${String(args.seed)}: expected an integer`);
  return args.seed;
}

/** `--params '{"steps":20}'`: extra attack parameters as a JSON object (one-line error otherwise). */
export function parseParamsJson(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new UserError(`bad --params '${text}': expected a JSON object such as '{"steps":20}'`);
  }
  return { ...(v as Record<string, unknown>) };
}

/** The attacker-gradient options shared by `attack` and `probe`: --gradient, --sign-surrogate, --eot. */
export function withGradientOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('gradient', {
      type: 'string',
      default: 'natural',
      describe: `Gradient exposed to the attacker, one the model's defense declares (opulab list shows them per defense): ${GRADIENT_MODES.map((m) => (m === 'bpda-estimated' ? 'bpda-estimated[:N]' : m)).join(', ')}, or a plugin's own`,
    })
    .option('sign-surrogate', { type: 'string', default: 'ste', describe: 'BPDA surrogate for the sign: ste, tanh[:beta], zero' })
    .option('eot', { type: 'number', default: 20, describe: 'EOT gradient samples when the model is stochastic (0 = off)' }) as unknown as Argv<T>;
}
