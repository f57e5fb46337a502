/**
 * The ONNX graph's batch-as-rows convolution layout (src/engine/builder.ts rowConv): the same logits and input
 * gradients as the plain layout and as the tfjs model, on VGG (max-pools between the convolutions) and RepVGG
 * (stride-2 convolutions keep the plain layout), fixed and dynamic batch; and where 'auto' uses it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { classifierFor } from '../src/models/classifier';
import { batchRows, buildGraph, GraphOptions } from '../src/engine/builder';
import { describeModel } from '../src/engine/describe';
import { networkWeights, GraphWeights } from '../src/engine/weights';
import { OrtSession } from '../src/engine/session';
import { lossFor } from '../attacks/losses';
import { relErr } from './helpers/numeric';
import { perturb } from './helpers/perturb';

let x: tf.Tensor4D;
let y: tf.Tensor1D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([5, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  y = tf.tensor1d([2, 0, 7, 9, 4], 'int32');
});
afterAll(() => tf.dispose([x, y]));

function nodeTypes(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

function run(net: Network, opts: GraphOptions): { logits: Float32Array; loss: Float32Array; grad: Float32Array; ops: string[] } {
  const desc = describeModel(net.config);
  const weights = networkWeights(net);
  const batch = x.shape[0];
  const pixels = x.dataSync() as Float32Array;
  const graph = buildGraph(desc, weights, { kind: 'grad', path: { dfa: false, sign: 'zero', opu: 'true' }, loss: { name: 'ce', targeted: false } }, opts);
  const session = new OrtSession(graph.bytes, { threads: 1, announce: false });
  try {
    const out = session.run({
      [graph.signature.x]: { data: pixels, dims: x.shape },
      [graph.signature.labels!]: { data: Float32Array.from(y.dataSync()), dims: [batch, 1] },
    });
    return { logits: out[graph.signature.logits], loss: out[graph.signature.loss!], grad: out[graph.signature.grad!], ops: nodeTypes(graph.bytes) };
  } finally {
    session.dispose();
  }
}

function check(cfg: ModelConfig): void {
  const net = new Network(cfg);
  perturb(net, 4, 'rows');
  try {
    const ref = classifierFor(net, 'natural');
    const lr = ref.logits(x);
    const g = ref.lossAndGradient!(x, y, lossFor('ce', false, y));
    const plain = run(net, { batch: x.shape[0], rowLayout: 'never' });
    expect(plain.ops).not.toContain('Pad');
    for (const batch of [x.shape[0], 'N'] as const) {
      const rows = run(net, { batch, rowLayout: 'always' });
      // the row layout is in the graph (one Pad per forward and per backward 3x3 stride-1 convolution)
      expect(rows.ops.filter((t) => t === 'Pad').length).toBeGreaterThanOrEqual(2);
      expect(relErr(rows.logits, plain.logits)).toBeLessThan(1e-5);
      expect(relErr(rows.grad, plain.grad)).toBeLessThan(1e-5);
      expect(relErr(rows.logits, lr.dataSync())).toBeLessThan(1e-4);
      expect(relErr(rows.loss, g.loss.dataSync())).toBeLessThan(1e-4);
      expect(relErr(rows.grad, g.grad.dataSync())).toBeLessThan(1e-3);
    }
    tf.dispose([lr, g.loss, g.grad]);
  } finally {
    net.dispose();
  }
}

describe('batch-as-rows convolutions', () => {
  it('VGG: same logits and input gradients as the plain layout and tfjs, fixed and dynamic batch', () =>
    check(defaultModelConfig({ architecture: 'vgg11', width: 0.125, defense: 'none', training: 'bp', dropout: 0, seed: 5 })));
  it('RepVGG (stride-2 convolutions stay plain): same logits and gradients', () =>
    check(defaultModelConfig({ architecture: 'repvgg-a0', width: 0.125, defense: 'none', training: 'bp', dropout: 0, seed: 6 })));
  it("'auto' lays out the 2x2 and 4x4 maps with 512 channels of VGG-16 at width 1, not a single image's", () => {
    expect(batchRows(2, 512) && batchRows(4, 512) && batchRows(2, 256)).toBe(true);
    expect(batchRows(4, 256) || batchRows(8, 512) || batchRows(2, 128)).toBe(false);
    // the graph of a width-1 VGG-16 (weights: zeros of the right sizes, the layout does not look at them)
    const desc = describeModel(defaultModelConfig({ architecture: 'vgg16', width: 1, defense: 'none', training: 'bp' }));
    const sizes = new Map<string, number[]>();
    for (const st of desc.features) {
      if (st.kind !== 'conv') continue;
      sizes.set(`${st.param}/kernel`, [3, 3, st.inChannels, st.outChannels]);
      for (const n of ['bias', 'bn/gamma', 'bn/beta', 'bn/running_mean', 'bn/running_var']) sizes.set(`${st.param}/${n}`, [st.outChannels]);
    }
    for (const st of desc.head) {
      if (st.kind !== 'dense') continue;
      sizes.set(`${st.param}/kernel`, [st.inFeatures, st.outFeatures]);
      sizes.set(`${st.param}/bias`, [st.outFeatures]);
    }
    const zeros: GraphWeights = {
      param: (name) => {
        const shape = sizes.get(name);
        if (!shape) throw new Error(`no parameter ${name}`);
        return { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape };
      },
      opuMatrix: () => { throw new Error('no OPU'); },
      opuRandomBackward: () => { throw new Error('no OPU'); },
      opuEstimate: () => null,
      feedback: () => null,
    };
    const pads = (batch: number | string): number => nodeTypes(buildGraph(desc, zeros, { kind: 'logits' }, { batch, winograd: 'never', dense2x2: 'never' }).bytes).filter((t) => t === 'Pad').length;
    // conv9, conv10 (4x4, 512 in), conv11-13 (2x2, 512 in); conv8 (4x4, 256 in) stays plain
    expect(pads(64)).toBe(5);
    expect(pads('N')).toBe(5);
    expect(pads(1)).toBe(0);
  });
});
