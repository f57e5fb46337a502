/**
 * Transfer sets: adversarial examples crafted on a source model, stored for evaluation on other models.
 *
 * On disk, a directory with
 *   adversarial.bin  float32 little-endian, one block of n*H*W*C values (NHWC) per eps, in manifest order;
 *   manifest.json    format, source id, attack, threat, norm, params, eps list, dataset indices, labels,
 *                    shape, dtype, byte order, byte length, per-eps success on the source.
 * The binary is written first and the manifest last (each atomically), so a set without a manifest is
 * incomplete and never loaded. Loading checks every size against the manifest (UserError on mismatch).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackFacts, Classifier, EpsSpace, Norm, ThreatModel } from '../../src/types';
import { writeFileAtomic } from '../../src/util/atomic';
import { UserError } from '../../src/util/errors';

export const TRANSFER_SET_FORMAT = 'opulab.transfer-set/1';
const BIN = 'adversarial.bin';
const MANIFEST = 'manifest.json';

export interface TransferSetManifest {
  format: typeof TRANSFER_SET_FORMAT;
  source: string;
  attack: string;
  threat: ThreatModel;
  norm: Norm;
  params: Record<string, unknown>;
  /** The crafting attack's facts (absent in sets written before attacks declared them, and for plugins without). */
  facts?: AttackFacts;
  /** Pixel-space eps of each block. */
  eps: number[];
  epsSpace: EpsSpace;
  /** The eps as the user wrote them (in epsSpace units), when different from pixel. */
  epsInSpace?: number[];
  /** Dataset indices of the n images. */
  indices: number[];
  labels: number[];
  /** [n, H, W, C] */
  shape: [number, number, number, number];
  dtype: 'float32';
  byteOrder: 'little-endian';
  file: string;
  byteLength: number;
  /** Per eps, per example: did the attack succeed on the source model. */
  sourceSuccess: boolean[][];
  seed: number;
  createdAt?: string;
}

export interface TransferSet {
  manifest: TransferSetManifest;
  /** One flat NHWC Float32Array per eps. */
  adversarial: Float32Array[];
}

export interface CraftOptions {
  /** Dataset indices of the rows of x (default 0..n-1). */
  indices?: number[];
  epsSpace?: EpsSpace;
  epsInSpace?: number[];
}

/** Run `attack` on the source model and keep its adversarial examples (tensors are disposed). */
export async function craftTransferSet(
  source: Classifier,
  attack: Attack,
  x: tf.Tensor4D,
  labels: Int32Array,
  epsilons: number[],
  ctx: AttackContext,
  options: CraftOptions = {},
): Promise<TransferSet> {
  const [n, h, w, c] = x.shape;
  const indices = options.indices ?? Array.from({ length: n }, (_, i) => i);
  if (indices.length !== n) throw new UserError(`got ${indices.length} indices for ${n} images`);
  if (labels.length !== n) throw new UserError(`got ${labels.length} labels for ${n} images`);
  const outcomes = await attack.run(source, x, labels, epsilons, ctx);
  const adversarial: Float32Array[] = [];
  try {
    for (const o of outcomes) adversarial.push(Float32Array.from(await o.adversarial.data()));
  } finally {
    for (const o of outcomes) o.adversarial.dispose();
  }
  return {
    manifest: {
      format: TRANSFER_SET_FORMAT,
      source: source.id,
      attack: attack.name,
      threat: attack.threat,
      norm: attack.norm,
      params: { ...attack.params },
      ...(attack.facts ? { facts: attack.facts } : {}),
      eps: outcomes.map((o) => o.eps),
      epsSpace: options.epsSpace ?? 'pixel',
      ...(options.epsInSpace ? { epsInSpace: options.epsInSpace } : {}),
      indices: [...indices],
      labels: Array.from(labels),
      shape: [n, h, w, c],
      dtype: 'float32',
      byteOrder: 'little-endian',
      file: BIN,
      byteLength: outcomes.length * n * h * w * c * 4,
      sourceSuccess: outcomes.map((o) => [...o.success]),
      seed: ctx.seed,
      createdAt: new Date().toISOString(),
    },
    adversarial,
  };
}

function toLittleEndianBytes(blocks: Float32Array[]): Uint8Array {
  const total = blocks.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total * 4);
  if (os.endianness() === 'LE') {
    let at = 0;
    for (const b of blocks) {
      out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
      at += b.byteLength;
    }
    return out;
  }
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of blocks) for (let i = 0; i < b.length; i++, at += 4) view.setFloat32(at, b[i], true);
  return out;
}

export function saveTransferSet(dir: string, set: TransferSet): void {
  const m = set.manifest;
  const per = m.shape.reduce((a, b) => a * b, 1);
  if (set.adversarial.length !== m.eps.length || set.adversarial.some((b) => b.length !== per)) {
    throw new Error(`transfer set does not match its manifest shape [${m.shape.join(',')}] x ${m.eps.length} eps`);
  }
  const bytes = toLittleEndianBytes(set.adversarial);
  writeFileAtomic(path.join(dir, m.file), bytes);
  writeFileAtomic(path.join(dir, MANIFEST), JSON.stringify({ ...m, byteLength: bytes.length }, null, 2) + '\n');
}

export function loadTransferSet(dir: string): TransferSet {
  const manifestPath = path.join(dir, MANIFEST);
  if (!fs.existsSync(manifestPath)) throw new UserError(`no transfer set in '${dir}': ${MANIFEST} not found`);
  let m: TransferSetManifest;
  try {
    m = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as TransferSetManifest;
  } catch (e) {
    throw new UserError(`bad transfer-set manifest '${manifestPath}': ${(e as Error).message}`);
  }
  if (m.format !== TRANSFER_SET_FORMAT) {
    throw new UserError(`bad transfer-set manifest '${manifestPath}': format '${String(m.format)}', expected '${TRANSFER_SET_FORMAT}'`);
  }
  if (m.dtype !== 'float32' || m.byteOrder !== 'little-endian') {
    throw new UserError(`bad transfer-set manifest '${manifestPath}': dtype ${m.dtype} ${m.byteOrder}, expected float32 little-endian`);
  }
  const per = m.shape.reduce((a, b) => a * b, 1);
  const n = m.shape[0];
  if (m.indices.length !== n || m.labels.length !== n) {
    throw new UserError(`bad transfer-set manifest '${manifestPath}': ${m.indices.length} indices / ${m.labels.length} labels for ${n} images`);
  }
  const binPath = path.join(dir, path.basename(m.file));
  const buf = fs.readFileSync(binPath);
  const expected = m.eps.length * per * 4;
  if (buf.length !== expected || m.byteLength !== expected) {
    throw new UserError(`transfer set '${binPath}' has ${buf.length} bytes, expected ${expected} (${m.eps.length} eps x [${m.shape.join(',')}] float32)`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const adversarial: Float32Array[] = [];
  for (let e = 0; e < m.eps.length; e++) {
    const block = new Float32Array(per);
    const base = e * per * 4;
    for (let i = 0; i < per; i++) block[i] = view.getFloat32(base + i * 4, true);
    adversarial.push(block);
  }
  return { manifest: m, adversarial };
}
