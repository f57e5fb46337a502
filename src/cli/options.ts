/** Global options every command receives (declared in main.ts). */
import * as os from 'os';
import { UserError } from '../util/errors';

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
