/**
 * Parameters as one flat float32 array: how replicas in worker threads exchange weights, gradients and BatchNorm
 * running statistics. The layout (name, shape, offset) is fixed by the ParamStore's creation order, which is the
 * same in every process that builds the same model config.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedParam } from '../models/params';

export interface FlatEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface FlatLayout {
  entries: FlatEntry[];
  /** Total number of float32 values. */
  size: number;
}

export function flatLayout(params: readonly { name: string; variable: tf.Variable }[]): FlatLayout {
  const entries: FlatEntry[] = [];
  let offset = 0;
  for (const p of params) {
    const size = p.variable.size;
    entries.push({ name: p.name, shape: p.variable.shape.slice(), offset, size });
    offset += size;
  }
  return { entries, size: offset };
}

/** The values of a float32 tensor: a view of the wasm heap when it lives there (no copy), else dataSync(). */
function valuesOf(t: tf.Tensor): Float32Array {
  if (t.dtype === 'float32' && tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array };
    if (typeof backend.typedArrayFromHeap === 'function') return backend.typedArrayFromHeap(t);
  }
  return t.dataSync() as Float32Array;
}

/** Copy tensors (in layout order) into `out` (default: a new array). Reads back from the backend. */
export function packTensors(tensors: readonly tf.Tensor[], layout: FlatLayout, out = new Float32Array(layout.size)): Float32Array {
  if (tensors.length !== layout.entries.length) throw new Error(`packTensors: ${tensors.length} tensors for ${layout.entries.length} entries`);
  tensors.forEach((t, i) => out.set(valuesOf(t), layout.entries[i].offset));
  return out;
}

/**
 * Assign the flat values to the variables of `params` (same order as the layout); `only` restricts it to some
 * parameters. Values are copied (a backend may otherwise keep a view of `flat`, e.g. of shared memory).
 */
export function assignFlat(params: readonly NamedParam[], layout: FlatLayout, flat: Float32Array, only?: (p: NamedParam) => boolean): void {
  if (flat.length !== layout.size) throw new Error(`assignFlat: ${flat.length} values for a layout of ${layout.size}`);
  // wasm copies a tensor's values into its heap, so a view is enough there; other backends get a copy
  const copy = tf.getBackend() !== 'wasm';
  layout.entries.forEach((e, i) => {
    if (only && !only(params[i])) return;
    const values = copy ? flat.slice(e.offset, e.offset + e.size) : flat.subarray(e.offset, e.offset + e.size);
    tf.tidy(() => params[i].variable.assign(tf.tensor(values, e.shape, 'float32')));
  });
}

/** One tensor per layout entry, viewing `flat` (caller disposes). */
export function unpackTensors(layout: FlatLayout, flat: Float32Array): tf.Tensor[] {
  return layout.entries.map((e) => tf.tensor(flat.subarray(e.offset, e.offset + e.size), e.shape, 'float32'));
}

/**
 * sum_s weights[s] * parts[s], accumulated in float64 in shard order, so the result does not depend on which
 * thread computed which part.
 */
export function weightedSum(parts: readonly Float32Array[], weights: readonly number[]): Float32Array {
  if (parts.length === 0 || parts.length !== weights.length) throw new Error(`weightedSum: ${parts.length} parts, ${weights.length} weights`);
  const n = parts[0].length;
  const out = new Float32Array(n);
  if (parts.length === 2) {
    // the common case (two workers), without the inner loop; the same float64 sum in the same order
    const [a, b] = parts;
    const [wa, wb] = weights;
    for (let i = 0; i < n; i++) out[i] = 0 + wa * a[i] + wb * b[i];
    return out;
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < parts.length; k++) s += weights[k] * parts[k][i];
    out[i] = s;
  }
  return out;
}
