/**
 * Engine choice for evaluation and attacks (`--engine auto|onnxruntime|tfjs`). Training always runs on tfjs.
 *
 *  - tfjs:         the Network's own tfjs forward and autodiff (the reference path).
 *  - onnxruntime:  graphs built from the network (src/engine/builder.ts) run by ONNX Runtime: evaluation, attack
 *                  steps and the OPU's system-identification queries (bpda-estimated). A defense plugin's
 *                  JavaScript input transform (and its surrogate) runs on tfjs in front of the graph
 *                  (src/engine/classifier.ts); a model part the graphs cannot express runs the whole model on
 *                  tfjs. Both said once.
 *  - auto:         onnxruntime where onnxruntime-node loads and the model has a graph, else tfjs; said once.
 */
import { isMainThread } from 'worker_threads';
import type { Classifier } from '../types';
import type { Network } from '../models/network';
import { classifierFor, resolveGradientMode } from '../models/classifier';
import { modelId, type ModelConfig } from '../models/config';
import { UserError } from '../util/errors';
import { availableCores } from '../util/cores';
import { describeModel } from './describe';
import { OrtClassifier } from './classifier';
import { ortAvailable, ortUnavailableReason } from './session';
import { OrtOpuQueries } from './opu-queries';

export const ENGINE_NAMES = ['auto', 'onnxruntime', 'tfjs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function parseEngine(text: string | undefined): EngineName {
  const v = text ?? 'auto';
  if (!(ENGINE_NAMES as readonly string[]).includes(v)) throw new UserError(`unknown engine '${v}': expected one of ${ENGINE_NAMES.join(', ')}`);
  return v as EngineName;
}

/** ONNX Runtime intra-op threads per worker so that workers x threads = cores (at least 1). */
export function threadsPerWorker(workers: number, cores = availableCores()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}

const said = new Set<string>();
/** Print a line once per process, on the main thread only (workers repeat what the main thread decided). */
function sayOnce(line: string): void {
  if (!isMainThread || said.has(line)) return;
  said.add(line);
  process.stderr.write(`${line}\n`);
}

/** The engine a model gets, and why (for the one-line notice). */
export function resolveEngine(config: ModelConfig, engine: EngineName): { engine: 'onnxruntime' | 'tfjs'; reason: string; onTfjs?: string; opu?: boolean } {
  if (engine === 'tfjs') return { engine: 'tfjs', reason: 'requested' };
  const desc = describeModel(config);
  const unsupported = desc.unsupported;
  if (!ortAvailable()) {
    if (engine === 'onnxruntime') throw new UserError(`--engine onnxruntime: onnxruntime-node does not load here (${ortUnavailableReason()}); expected it installed (npm ci), or use --engine tfjs`);
    return { engine: 'tfjs', reason: `onnxruntime-node does not load (${ortUnavailableReason()})` };
  }
  if (unsupported.length) return { engine: 'tfjs', reason: `no ONNX graph for ${unsupported.join('; ')}` };
  const transform = desc.inputTransform;
  return {
    engine: 'onnxruntime',
    reason: engine === 'auto' ? 'auto' : 'requested',
    opu: desc.head.some((s) => s.kind === 'opu'),
    ...(transform ? { onTfjs: `the input transform of defense plugin '${transform.name}' runs on tfjs in front of the graph` } : {}),
  };
}

/**
 * Decide the engine for a model and say so once (main thread). Called where the model is evaluated, and by the
 * main thread before it hands evaluation to worker threads (which decide the same and stay quiet).
 */
export function announceEngine(config: ModelConfig, engine: EngineName): 'onnxruntime' | 'tfjs' {
  const choice = resolveEngine(config, engine);
  if (choice.engine === 'tfjs') {
    if (engine !== 'tfjs') sayOnce(`engine: tfjs for ${modelId(config)} (${choice.reason})`);
  } else {
    const what = choice.opu ? 'evaluation, attack steps and system-identification queries' : 'evaluation and attack steps';
    sayOnce(`engine: onnxruntime (${choice.reason}) for ${what}${choice.onTfjs ? ` of ${modelId(config)}; ${choice.onTfjs}` : ''}; training stays on tfjs`);
  }
  return choice.engine;
}

const byNetwork = new WeakMap<Network, Set<OrtClassifier>>();

export interface EngineOptions {
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
}

/**
 * `base` (the tfjs classifier of `net` under `gradientMode`, already estimated for bpda-estimated) on the chosen
 * engine. Release ONNX sessions with `releaseEngine(net)` before disposing the network.
 */
export function withEngine(net: Network, base: Classifier, gradientMode: string, signSurrogate: string, engine: EngineName, opts: EngineOptions = {}): Classifier {
  const choice = announceEngine(net.config, engine);
  if (choice === 'tfjs') return base;
  const c = new OrtClassifier(net, resolveGradientMode(net, gradientMode, signSurrogate), base, { threads: opts.threads, announce: isMainThread });
  let set = byNetwork.get(net);
  if (!set) byNetwork.set(net, (set = new Set()));
  set.add(c);
  return c;
}

/** Release the ONNX Runtime sessions of every engine classifier made for `net`. */
export function releaseEngine(net: Network): void {
  for (const c of byNetwork.get(net) ?? []) c.dispose();
  byNetwork.delete(net);
}

/**
 * `classifierFor` then `withEngine` in one step: the classifier of `net` under `gradientMode` on the chosen engine.
 * On ONNX Runtime the system identification of bpda-estimated[:N] (seeded by `sysidSeed`) also queries the OPU
 * through ONNX Runtime (opu-queries.ts): the same queries and noise draws as on tfjs, so the same estimate.
 */
export function engineClassifier(net: Network, gradientMode: string, signSurrogate: string, sysidSeed: number, engine: EngineName, opts: EngineOptions = {}): Classifier {
  const onOrt = announceEngine(net.config, engine) === 'onnxruntime';
  const base = classifierFor(net, gradientMode, signSurrogate, sysidSeed, onOrt ? { blackBox: (opu) => new OrtOpuQueries(opu, { threads: opts.threads, announce: isMainThread }) } : {});
  return withEngine(net, base, gradientMode, signSurrogate, engine, opts);
}
