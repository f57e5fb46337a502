/**
 * An opulab checkpoint directory (docs/architecture.md §3) as a Classifier for library users: the network
 * under a gradient mode its defense declares, on the chosen engine, wrapped in EOT when the model is
 * stochastic and `eot` > 0 — the same composition `opulab attack --checkpoint` uses.
 */
import type { Classifier } from '../types';
import { loadNetwork } from '../training/checkpoint';
import type { Network } from '../models/network';
import { releaseEngine, engineClassifier, type EngineName } from '../engine';
import { withEot } from '../../attacks/eot';
import { deriveSeed } from '../util/rng';

export interface CheckpointOptions {
  /** A gradient mode the model's defense declares (`opulab list`); default natural. */
  gradient?: string;
  /** Straight-through surrogate of a Sign stage: ste (default), tanh[:beta] or zero. */
  signSurrogate?: string;
  /** Engine of forward passes and attack steps: tfjs (default), onnxruntime or auto. */
  engine?: EngineName;
  /** EOT gradient samples for a stochastic model (0 = off, the default). */
  eot?: number;
  /** Seed of the system identification of bpda-estimated. */
  seed?: number;
}

export interface LoadedCheckpoint {
  classifier: Classifier;
  network: Network;
  /** Releases the engine's sessions and the network's weights. */
  dispose(): void;
}

/** Loads `dir` (model.json + weights.bin written by `opulab train`) as a Classifier. */
export function loadCheckpoint(dir: string, opts: CheckpointOptions = {}): LoadedCheckpoint {
  const { net } = loadNetwork(dir);
  try {
    const gradient = opts.gradient ?? 'natural';
    const signSurrogate = opts.signSurrogate ?? 'ste';
    const engined = engineClassifier(net, gradient, signSurrogate, deriveSeed(opts.seed ?? 0, 'sysid'), opts.engine ?? 'tfjs');
    const classifier = engined.stochastic && (opts.eot ?? 0) > 0 ? withEot(engined, { samples: opts.eot }) : engined;
    return {
      classifier,
      network: net,
      dispose: () => {
        releaseEngine(net);
        net.dispose();
      },
    };
  } catch (e) {
    releaseEngine(net);
    net.dispose();
    throw e;
  }
}
