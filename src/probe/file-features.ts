/**
 * The "layers" of a model file for the layer-similarity probe (docs/import.md, Probe): the outputs of its
 * activation, pooling and dense nodes, named by node or layer name, in graph order, after `input` (the [0,1]
 * pixels) and before `logits` (the model's output; the node that computes it is not listed twice).
 *
 *   ONNX           nodes Relu, LeakyRelu, PRelu, Elu, Sigmoid, Tanh, Clip, HardSigmoid, Softplus (activation);
 *                  MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (pool); Gemm, MatMul (dense). Run in one
 *                  ONNX Runtime session of the graph with those values added as outputs.
 *   TF.js layers   layers of class ReLU, LeakyReLU, ELU, PReLU, Softmax, Activation, Dense, MaxPooling2D,
 *                  AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, and convolutions with a
 *                  non-linear activation; run as one tfjs model with those outputs.
 *   TF.js graph    nodes Relu, Relu6, Elu, Selu, LeakyRelu, Sigmoid, Tanh, MaxPool, AvgPool, MatMul,
 *                  _FusedMatMul, and fused convolutions whose fused ops end in an activation.
 *
 * The probe correlates flattened per-example vectors, which does not depend on the order of their entries, so
 * NCHW and NHWC values of a layer give the same numbers. Models are compared on the layers they share by name.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { LayersModel, model as layersModel, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { UserError } from '../util/errors';
import { OrtSession, ortAvailable, ortUnavailableReason, trackSession } from '../engine/session';
import { readOnnxGraph } from '../import/onnx-file';
import type { ImportedModel } from '../import';
import { TfjsClassifier } from '../import/tfjs';
import type { LayerObserver } from './similarity';

/** Computes the probed layers of one batch of [0,1] NHWC pixels: names and [batch, ...] values (caller disposes). */
export interface FileFeatureSource {
  layers: string[];
  /** Values of `layers`, in order, for xb (excluding input and logits). */
  run(xb: tf.Tensor4D): tf.Tensor[];
  dispose(): void;
}

const ONNX_LAYER_OPS = new Set(['Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Sigmoid', 'Tanh', 'Clip', 'HardSigmoid', 'Softplus', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Gemm', 'MatMul']);
const LAYERS_CLASSES = new Set(['ReLU', 'LeakyReLU', 'ELU', 'PReLU', 'Softmax', 'Activation', 'Dense', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D']);
const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose']);
const GRAPH_OPS = new Set(['Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'MaxPool', 'AvgPool', 'MatMul', '_FusedMatMul']);
const FUSED_CONV_OPS = new Set(['_FusedConv2D', 'FusedDepthwiseConv2dNative']);
const PASS_THROUGH = new Set(['Identity', 'Dropout', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);
const ACTIVATIONS = /relu|elu|sigmoid|tanh|prelu|leakyrelu/i;

/** The model's input from [0,1] NHWC pixels: the normalization of its record, NCHW when the model reads NCHW. */
function modelInput(m: ImportedModel, xb: tf.Tensor4D): tf.Tensor4D {
  const n = m.info.normalization;
  let v = xb;
  if ('mean' in n) v = tf.div(tf.sub(v, tf.tensor1d(n.mean)), tf.tensor1d(n.std));
  return m.info.layout === 'nchw' ? tf.transpose(v, [0, 3, 1, 2]) : v;
}

function onnxSource(m: ImportedModel): FileFeatureSource {
  if (m.info.format !== 'onnx') throw new Error('onnxSource: not an ONNX model');
  if (!ortAvailable()) throw new UserError(`probe of '${m.info.file}': the layers of an ONNX file are read with ONNX Runtime, which does not load here (${ortUnavailableReason()}): expected onnxruntime-node installed (npm ci)`);
  const bytes = new Uint8Array(fs.readFileSync(m.info.file));
  const g = readOnnxGraph(bytes, m.info.file);
  // the node that computes the output (through shape-only nodes) is `logits`, not listed twice
  const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  let last = producer.get(g.output.name);
  while (last && PASS_THROUGH.has(last.opType) && producer.get(last.inputs[0])) last = producer.get(last.inputs[0]);
  const picked = g.nodes.filter((n) => ONNX_LAYER_OPS.has(n.opType) && n.domain === '' && n.outputs[0] && n !== last);
  const proto = onnx.ModelProto.decode(bytes);
  const declared = new Set((proto.graph!.output ?? []).map((o) => o.name));
  const outputs = picked.map((n) => n.outputs[0]).filter((o) => !declared.has(o));
  // outputs named without a type: ONNX Runtime infers them from the graph
  for (const o of outputs) proto.graph!.output!.push(onnx.ValueInfoProto.create({ name: o }));
  const session = new OrtSession(onnx.ModelProto.encode(proto).finish(), { announce: false });
  trackSession(1);
  const fixed = m.info.batch;
  return {
    layers: picked.map((n) => n.name),
    run(xb) {
      const n = xb.shape[0];
      const feed = tf.tidy(() => {
        const v = modelInput(m, xb);
        const pad = typeof fixed === 'number' && fixed !== n ? fixed - n : 0;
        if (pad < 0) throw new UserError(`probe of '${m.info.file}': the graph takes batches of ${fixed}: use --batch-size ${fixed} or less`);
        return pad ? tf.concat([v, tf.zeros([pad, ...v.shape.slice(1)])], 0) : tf.clone(v);
      });
      const out = session.run({ [g.input.name]: { data: feed.dataSync() as Float32Array, dims: feed.shape } });
      const rows = feed.shape[0];
      feed.dispose();
      return picked.map((node) => {
        const data = out[node.outputs[0]];
        const per = data.length / rows;
        return tf.tensor2d(data.subarray(0, n * per), [n, per]);
      });
    },
    dispose() {
      session.dispose();
      trackSession(-1);
    },
  };
}

function layersSource(m: ImportedModel, net: LayersModel): FileFeatureSource {
  const outputLayer = net.outputs[0].sourceLayer;
  const picked = net.layers.filter((l) => {
    if (l === outputLayer) return false;
    const cls = l.getClassName();
    if (LAYERS_CLASSES.has(cls)) return true;
    const act = (l.getConfig() as { activation?: unknown }).activation;
    return CONV_CLASSES.has(cls) && typeof act === 'string' && act !== 'linear';
  });
  const multi = picked.length ? layersModel({ inputs: net.inputs, outputs: picked.map((l) => l.output as SymbolicTensor) }) : null;
  return {
    layers: picked.map((l) => l.name),
    run(xb) {
      if (!multi) return [];
      return tf.tidy(() => {
        const out = multi.predict(modelInput(m, xb));
        return (Array.isArray(out) ? out : [out]).map((t) => tf.reshape(t, [xb.shape[0], -1]));
      });
    },
    // the multi-output model shares the loaded model's weights (released with it)
    dispose: () => undefined,
  };
}

function graphSource(m: ImportedModel, net: GraphModel): FileFeatureSource {
  const topology = (net as unknown as { artifacts?: { modelTopology?: { node?: { name: string; op: string; attr?: Record<string, { list?: { s?: string[] } }> }[] } } }).artifacts?.modelTopology;
  const nodes = topology?.node ?? [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let outputNode = net.outputNodes[0]?.split(':')[0];
  for (let hops = 0; hops < nodes.length; hops++) {
    const n = byName.get(outputNode);
    if (!n || n.op !== 'Identity' || !(n as { input?: string[] }).input?.length) break;
    outputNode = (n as { input?: string[] }).input![0].split(':')[0].replace(/^\^/, '');
  }
  const fusedActivation = (n: (typeof nodes)[number]): boolean => {
    const ops = n.attr?.fused_ops?.list?.s ?? [];
    // tfjs-converter stores attribute strings base64-encoded
    return ops.some((s) => ACTIVATIONS.test(Buffer.from(s, 'base64').toString('utf8')) || ACTIVATIONS.test(s));
  };
  const picked = nodes.filter((n) => n.name !== outputNode && (GRAPH_OPS.has(n.op) || (FUSED_CONV_OPS.has(n.op) && fusedActivation(n))));
  return {
    layers: picked.map((n) => n.name),
    run(xb) {
      if (!picked.length) return [];
      return tf.tidy(() => {
        const out = net.execute(modelInput(m, xb), picked.map((n) => n.name));
        return (Array.isArray(out) ? out : [out]).map((t) => tf.reshape(t, [xb.shape[0], -1]));
      });
    },
    dispose: () => undefined,
  };
}

/** The probe's layer source of a loaded model file (see the module comment). */
export function fileFeatureSource(m: ImportedModel): FileFeatureSource {
  if (m.info.format === 'onnx') return onnxSource(m);
  const c = m.classifier;
  if (!(c instanceof TfjsClassifier)) throw new Error('fileFeatureSource: a TensorFlow.js record without a TfjsClassifier');
  return c.model instanceof GraphModel ? graphSource(m, c.model) : layersSource(m, c.model);
}

/** The probe's observer of a model file: `input`, the layers of `source`, then `logits` (the model's output). */
export function fileObserver(m: ImportedModel, source: FileFeatureSource): LayerObserver {
  return (xb, keep) => {
    keep('input', xb);
    const values = source.run(xb);
    source.layers.forEach((name, i) => keep(name, values[i]));
    keep('logits', m.classifier.logits(xb));
  };
}
