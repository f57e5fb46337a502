/**
 * A file-system IOHandler for TensorFlow.js models (`model.json` + binary weight shards), so LayersModels and
 * GraphModels load and save in Node without @tensorflow/tfjs-node (which needs libtensorflow).
 *
 * Load: `model.json` is parsed, every shard listed in its `weightsManifest` is read from the same folder and
 * the shards are concatenated in manifest order (the TensorFlow.js weights format). Save: `model.json` and
 * one `weights.bin` shard, each written atomically. Problems are one-line UserErrors naming the file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { io } from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import { writeFileAtomic } from '../util/atomic';

/** The shard name `save` writes beside `model.json`. */
export const TFJS_WEIGHTS_FILE = 'weights.bin';

/** Read and parse a TensorFlow.js `model.json`; a missing file or bad JSON is a UserError. */
export function readTfjsModelJson(modelJsonPath: string): io.ModelJSON {
  let text: string;
  try {
    text = fs.readFileSync(modelJsonPath, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read TensorFlow.js model '${modelJsonPath}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`bad TensorFlow.js model '${modelJsonPath}': expected a model.json (JSON with modelTopology and weightsManifest)`);
  }
  if (typeof json !== 'object' || json === null || !('modelTopology' in json)) {
    throw new UserError(`bad TensorFlow.js model '${modelJsonPath}': expected a model.json with a modelTopology field`);
  }
  return json as io.ModelJSON;
}

/** The weight shard paths a model.json lists (relative to its folder), in manifest order; a bad manifest is a UserError. */
export function tfjsShardPaths(json: io.ModelJSON, modelJsonPath = 'model.json'): string[] {
  const manifest = (json as { weightsManifest?: unknown }).weightsManifest;
  if (manifest === undefined) return [];
  const bad = (): UserError => new UserError(`bad TensorFlow.js model '${modelJsonPath}': weightsManifest is not a list of {paths, weights} groups`);
  if (!Array.isArray(manifest)) throw bad();
  const out: string[] = [];
  for (const g of manifest as unknown[]) {
    const paths = (g as { paths?: unknown } | null)?.paths;
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) throw bad();
    out.push(...(paths as string[]));
  }
  return out;
}

function readShards(dir: string, modelJsonPath: string, manifest: io.WeightsManifestConfig): ArrayBuffer {
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      const file = path.resolve(dir, p);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        throw new UserError(`cannot read weight shard '${p}' listed in '${modelJsonPath}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  return io.concatenateArrayBuffers(buffers);
}

/** Checks that the shards hold exactly the bytes the manifest describes (a truncated download fails here). */
function checkWeightBytes(modelJsonPath: string, specs: io.WeightsManifestEntry[], data: ArrayBuffer): void {
  const bytesPer: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };
  let expected = 0;
  for (const s of specs) {
    if (s.dtype === 'string') return; // variable-length: nothing to check up front
    const per = s.quantization ? (bytesPer[s.quantization.dtype] ?? 4) : (bytesPer[s.dtype] ?? 4);
    expected += s.shape.reduce((a, b) => a * b, 1) * per;
  }
  if (expected !== data.byteLength) {
    throw new UserError(`bad weights for '${modelJsonPath}': the manifest describes ${expected} bytes, the shards hold ${data.byteLength}`);
  }
}

/**
 * An IOHandler on a `model.json` path: `tf.loadLayersModel(tfjsFileHandler(p))`,
 * `tf.loadGraphModel(tfjsFileHandler(p))`, `model.save(tfjsFileHandler(p))`.
 */
export function tfjsFileHandler(modelJsonPath: string): io.IOHandler {
  const dir = path.dirname(path.resolve(modelJsonPath));
  return {
    async load(): Promise<io.ModelArtifacts> {
      const json = readTfjsModelJson(modelJsonPath);
      return io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = io.getWeightSpecs(manifest);
        const data = readShards(dir, modelJsonPath, manifest);
        checkWeightBytes(modelJsonPath, specs, data);
        return [specs, data];
      });
    },
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new UserError(`cannot save '${modelJsonPath}': binary model topologies are not supported, expected a JSON topology`);
      }
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : io.CompositeArrayBuffer.join(artifacts.weightData);
      const json: io.ModelJSON = {
        modelTopology: artifacts.modelTopology as {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature !== undefined) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer !== undefined) json.modelInitializer = artifacts.modelInitializer;
      fs.mkdirSync(dir, { recursive: true });
      writeFileAtomic(path.join(dir, TFJS_WEIGHTS_FILE), new Uint8Array(weights));
      writeFileAtomic(path.resolve(modelJsonPath), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}
