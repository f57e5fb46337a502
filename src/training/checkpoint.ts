/**
 * Checkpoints (docs/architecture.md §3): a directory with `model.json` (architecture, defense and training config,
 * normalization, metrics, optimizer/schedule state, and a manifest of weights: name, shape, dtype, byte
 * offset) and a float32 little-endian weights file. Fixed random matrices (OPU, DFA feedback) are NOT stored:
 * they are regenerated from the config's seed.
 *
 * Atomicity: the weights go to a uniquely named file first, then model.json (which names that file) is replaced
 * by rename; older weight files are removed afterwards. A reader never sees a half-written checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import { writeFileAtomic } from '../util/atomic';
import { ModelConfig, validateModelConfig } from '../models/config';
import { Network } from '../models/network';

export const CHECKPOINT_FORMAT = 'opulab.checkpoint/1';

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  offset: number;
}

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  config: ModelConfig;
  /** Training configuration and progress (epochs done, optimizer, schedule state, history). */
  train: Record<string, unknown>;
  metrics: Record<string, unknown>;
  weightsFile: string;
  weights: WeightEntry[];
  savedAt: string;
}

export function saveCheckpoint(
  dir: string,
  config: ModelConfig,
  tensors: { name: string; tensor: tf.Tensor }[],
  train: Record<string, unknown>,
  metrics: Record<string, unknown>,
): void {
  fs.mkdirSync(dir, { recursive: true });
  const entries: WeightEntry[] = [];
  let offset = 0;
  const chunks: Float32Array[] = [];
  for (const { name, tensor } of tensors) {
    const data = tensor.dataSync() as Float32Array;
    entries.push({ name, shape: tensor.shape.slice(), dtype: 'float32', offset });
    chunks.push(data);
    offset += data.length * 4;
  }
  const buf = Buffer.alloc(offset);
  let o = 0;
  for (const c of chunks) {
    Buffer.from(c.buffer, c.byteOffset, c.byteLength).copy(buf, o);
    o += c.byteLength;
  }
  const weightsFile = `weights-${Date.now().toString(36)}-${process.pid}.bin`;
  writeFileAtomic(path.join(dir, weightsFile), buf);
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    config,
    train,
    metrics,
    weightsFile,
    weights: entries,
    savedAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(meta, null, 2));
  for (const f of fs.readdirSync(dir)) {
    if (/^weights-.*\.bin$/.test(f) && f !== weightsFile) fs.rmSync(path.join(dir, f), { force: true });
  }
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new UserError(`checkpoint '${dir}': no model.json (expected a directory written by opulab train)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new UserError(`checkpoint '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new UserError(`checkpoint '${file}' has format '${String(meta.format)}', expected '${CHECKPOINT_FORMAT}'`);
  }
  validateModelConfig(meta.config);
  return meta;
}

/** Read the stored tensors by name (caller disposes). */
export function readCheckpointTensors(dir: string, meta: CheckpointMeta): Map<string, tf.Tensor> {
  const file = path.join(dir, meta.weightsFile);
  if (!fs.existsSync(file)) throw new UserError(`checkpoint '${dir}': weights file '${meta.weightsFile}' is missing`);
  const buf = fs.readFileSync(file);
  const out = new Map<string, tf.Tensor>();
  for (const w of meta.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.offset + size * 4 > buf.length) {
      throw new UserError(`checkpoint '${file}' is truncated: '${w.name}' needs bytes up to ${w.offset + size * 4}, file has ${buf.length}`);
    }
    const data = new Float32Array(size);
    Buffer.from(data.buffer).set(buf.subarray(w.offset, w.offset + size * 4));
    out.set(w.name, tf.tensor(data, w.shape, 'float32'));
  }
  return out;
}

/**
 * Copy stored tensors into variables, checking that names and shapes match exactly; a checkpoint of another
 * architecture fails with an error naming the first mismatch.
 */
export function assignTensors(dir: string, tensors: Map<string, tf.Tensor>, targets: { name: string; variable: tf.Variable }[]): void {
  for (const { name, variable } of targets) {
    const t = tensors.get(name);
    if (!t) throw new UserError(`checkpoint '${dir}' does not fit this architecture: no weight '${name}'`);
    if (t.shape.join('x') !== variable.shape.join('x')) {
      throw new UserError(
        `checkpoint '${dir}' does not fit this architecture: '${name}' has shape [${t.shape}] but the model expects [${variable.shape}]`,
      );
    }
    variable.assign(t);
  }
}

/** Load a checkpoint's weights into a network built from its config (caller disposes the network). */
export function loadNetwork(dir: string): { net: Network; meta: CheckpointMeta } {
  const meta = readCheckpointMeta(dir);
  const net = new Network(meta.config as ModelConfig);
  const tensors = readCheckpointTensors(dir, meta);
  try {
    assignTensors(dir, tensors, net.store.list());
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    tf.dispose([...tensors.values()]);
  }
  return { net, meta };
}
