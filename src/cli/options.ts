/** Global options every command receives (declared in main.ts). */
import { availableCores } from '../util/cores';
import type { Argv } from 'yargs';
import { UserError } from '../util/errors';
import { GRADIENT_MODES, checkGradientModeText } from '../models/classifier';
import { parseEps, parseEpsList } from '../../attacks/eps';
import { resolveAttack } from '../plugins/attack';
import { attackParams } from '../experiments/execute';
import { defaultNorm } from '../../attacks/registry';
import { ENGINE_NAMES, EngineName, parseEngine } from '../engine';

export interface GlobalArgs {
  seed: number;
  backend: string;
  workers?: number;
  dataDir?: string;
  /** --no-download sets it false: never fetch the official archive. */
  download?: boolean;
  allowUnofficialData?: boolean;
}

export function workerCount(args: GlobalArgs): number {
  const n = args.workers ?? availableCores();
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

/**
 * Check an attack request's names and numbers before any work (backend, data, checkpoint): the attack and its
 * parameters, every eps, the step size, the gradient mode and its sign surrogate. Errors name the flag.
 */
export function checkAttackFlags(a: { attack?: string; eps: string; stepSize?: string; gradient?: string; signSurrogate?: string; norm?: string; epsSpace?: string; params: Record<string, unknown> }): void {
  const flag = <T>(name: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof UserError) throw new UserError(e.message.startsWith('bad eps ') ? `bad --${name} ${e.message.slice(8)}` : `--${name}: ${e.message}`);
      throw e;
    }
  };
  flag('eps', () => parseEpsList(a.eps));
  if (a.stepSize !== undefined) flag('step-size', () => parseEps(a.stepSize!));
  if (a.gradient !== undefined) checkGradientModeText(a.gradient, a.signSurrogate ?? 'ste');
  if (a.attack !== undefined) {
    const req = { attack: a.attack, params: a.params, norm: (a.norm ?? defaultNorm(a.attack ?? '')) as 'linf' | 'l2', epsSpace: (a.epsSpace ?? 'pixel') as 'pixel' | 'normalized' };
    resolveAttack(a.attack, attackParams({ ...req, eps: [], gradient: 'natural', signSurrogate: 'ste', eot: 0, batchSize: 1, seed: 0 }, [0.5]));
  }
}

/**
 * `--engine auto|onnxruntime|tfjs` of the commands that evaluate or attack (src/engine): auto uses ONNX Runtime
 * wherever the model has a graph and says so once; training stays on tfjs.
 */
export function withEngineOption<T>(y: Argv<T>): Argv<T> {
  return y.option('engine', {
    type: 'string',
    default: 'auto',
    describe: `Engine for evaluation and attack steps: ${ENGINE_NAMES.join(', ')} (auto: ONNX Runtime where the model has a graph; training always runs on tfjs)`,
  }) as unknown as Argv<T>;
}

/** The parsed --engine (one-line error on a bad name). */
export function engineOf(args: { engine?: string }): EngineName {
  return parseEngine(args.engine);
}
