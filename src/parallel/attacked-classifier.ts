/**
 * The Classifier an attack job runs against (docs/architecture.md §4): the network's classifier for the requested
 * gradient mode (src/models/classifier.ts), on the requested engine (src/engine), wrapped in EOT when the model is
 * stochastic (attacks/eot.ts). Built the same way in this thread and in every evaluation worker, so it sits in the
 * layer of the evaluator, below the experiment code that makes the request.
 */
import type { Classifier } from '../types';
import type { Network } from '../models/network';
import { withEot } from '../../attacks/eot';
import { deriveSeed } from '../util/rng';
import { EngineName, engineClassifier } from '../engine';

/** What picks the attacked classifier of a network (the matching fields of an attack request). */
export interface AttackedClassifierOptions {
  /** Gradient mode, one the model's defense declares. */
  gradient: string;
  signSurrogate: string;
  /** EOT gradient samples when the model is stochastic (0 = off). */
  eot: number;
  /** The request's seed (system identification of the `estimated` modes derives from it). */
  seed: number;
  /** Engine of evaluation and attack steps (default tfjs). */
  engine?: EngineName;
  /** ONNX Runtime intra-op threads (default all cores). */
  engineThreads?: number;
}

export function attackedClassifier(net: Network, req: AttackedClassifierOptions): Classifier {
  const c = engineClassifier(net, req.gradient, req.signSurrogate, deriveSeed(req.seed, 'sysid'), req.engine ?? 'tfjs', { threads: req.engineThreads });
  return c.stochastic && req.eot > 0 ? withEot(c, { samples: req.eot }) : c;
}
