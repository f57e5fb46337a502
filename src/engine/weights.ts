/**
 * The numbers a graph is built from, read once from a trained Network: named parameters (RepVGG train-form
 * weights fused into their deploy form first), the OPU's matrices (true, the reference's random backward matrix,
 * a system-identification estimate) and the DFA feedback matrix. Everything is copied into plain arrays, so a
 * graph never holds tfjs tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../models/network';
import { isRepVggArchitecture } from '../models/config';

export interface ArrayParam {
  data: Float32Array;
  shape: number[];
}

/** What the graph builder reads (see the module comment). */
export interface GraphWeights {
  param(name: string): ArrayParam;
  /** The OPU's true matrix as row-major [n_in, n_out] arrays (imag: physical mode only). */
  opuMatrix(): { real: Float32Array; imag: Float32Array | null };
  /** The reference's fixed random backward matrix B, row-major [n_in, n_out]. */
  opuRandomBackward(): Float32Array;
  /** The current system-identification estimate (factors row-major [n_in, n_out]; signs part-major), or null. */
  opuEstimate(): { factors: readonly Float32Array[]; signs: Float32Array | null } | null;
  /** DFA feedback matrix B [classes, size], or null for bp-trained models. */
  feedback(): { data: Float32Array; classes: number; size: number } | null;
}

/**
 * Weights of `net`. Parameters are snapshotted now (a later training step does not change the graph);
 * matrices are generated when first asked for.
 */
export function networkWeights(net: Network): GraphWeights {
  const params = new Map<string, ArrayParam>();
  const snapshot = (source: Network): void => {
    for (const p of source.store.list()) params.set(p.name, { data: p.variable.dataSync().slice() as Float32Array, shape: p.variable.shape.slice() });
  };
  if (isRepVggArchitecture(net.config.architecture) && (net.config.repvggForm ?? 'train') === 'train') {
    const deployed = net.reparameterize();
    try {
      snapshot(deployed);
    } finally {
      deployed.dispose();
    }
  } else snapshot(net);
  return {
    param(name) {
      const p = params.get(name);
      if (!p) throw new Error(`graph weights: no parameter '${name}'`);
      return p;
    },
    opuMatrix() {
      if (!net.opu) throw new Error('graph weights: the model has no OPU');
      return net.opu.transmission.toArrays();
    },
    opuRandomBackward() {
      if (!net.opu) throw new Error('graph weights: the model has no OPU');
      return net.opu.randomBackwardMatrix.toArrays().real;
    },
    opuEstimate() {
      const e = net.opu?.estimate;
      return e ? { factors: e.factors, signs: e.signs } : null;
    },
    feedback() {
      const f = net.feedback;
      if (!f) return null;
      return { data: tf.tidy(() => f.matrix.dataSync().slice() as Float32Array), classes: f.classes, size: f.size };
    },
  };
}
