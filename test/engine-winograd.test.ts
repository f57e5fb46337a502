/**
 * The ONNX graph's Winograd F(2x2,3x3) convolutions (src/engine/builder.ts winogradConv): one convolution against
 * the direct one on random data (map sizes 2-8, unequal channel counts, fixed and dynamic batch); whole VGG and
 * RepVGG graphs (logits and input gradients) against the plain graph and the tfjs model; and where 'auto' uses it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { classifierFor } from '../src/models/classifier';
import { buildGraph, emitConv3x3, GraphOptions, winogradPays, dense2x2Pays, Conv3x3Form } from '../src/engine/builder';
import { describeModel } from '../src/engine/describe';
import { networkWeights, GraphWeights } from '../src/engine/weights';
import { GraphBuilder, Dim } from '../src/engine/onnx-graph';
import { OrtSession } from '../src/engine/session';
import { lossFor } from '../attacks/losses';
import { makeRng } from '../src/util/rng';
import { relErr } from './helpers/numeric';
import { perturb } from './helpers/perturb';

let x: tf.Tensor4D;
let y: tf.Tensor1D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([5, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
  y = tf.tensor1d([2, 0, 7, 9, 4], 'int32');
});
afterAll(() => tf.dispose([x, y]));

function initializerNames(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => t.name!);
}

describe('one Winograd convolution', () => {
  const rng = makeRng(7, 'winograd-layer');
  function conv(form: Conv3x3Form, batch: Dim, n: number, hw: number, ci: number, co: number, kernel: Float32Array, bias: Float32Array | null, data: Float32Array): Float32Array {
    const g = new GraphBuilder();
    const xin = g.input('x', [batch, ci, hw, hw]);
    g.output(emitConv3x3(g, xin, kernel, bias, bias !== null, { cin: ci, cout: co, hw, batch }, form, 'c'), 'y', [batch, co, hw, hw]);
    const s = new OrtSession(g.serialize('layer'), { threads: 1, announce: false });
    try {
      return s.run({ x: { data, dims: [n, ci, hw, hw] } }).y;
    } finally {
      s.dispose();
    }
  }
  it.each([
    { hw: 2, ci: 5, co: 3 },
    { hw: 4, ci: 3, co: 6 },
    { hw: 8, ci: 4, co: 4 },
  ])('$hw x $hw maps, $ci -> $co channels: the direct convolution (+ bias + ReLU, and bare), fixed and dynamic batch', ({ hw, ci, co }) => {
    const n = 3;
    const kernel = Float32Array.from({ length: co * ci * 9 }, () => rng.range(-1, 1));
    const bias = Float32Array.from({ length: co }, () => rng.range(-0.5, 0.5));
    const data = Float32Array.from({ length: n * ci * hw * hw }, () => rng.range(-1, 1));
    for (const b of [bias, null]) {
      const ref = conv('plain', n, n, hw, ci, co, kernel, b, data);
      // the bare convolution has negative outputs: not a ReLU's zeros everywhere
      if (!b) expect(Math.min(...ref)).toBeLessThan(0);
      for (const batch of [n, 'N'] as const) {
        expect(relErr(conv('winograd', batch, n, hw, ci, co, kernel, b, data), ref)).toBeLessThan(1e-6);
        if (hw === 2) expect(relErr(conv('dense', batch, n, hw, ci, co, kernel, b, data), ref)).toBeLessThan(1e-6);
      }
    }
  });
});

function run(net: Network, opts: GraphOptions): { logits: Float32Array; loss: Float32Array; grad: Float32Array; names: string[] } {
  const desc = describeModel(net.config);
  const weights = networkWeights(net);
  const batch = x.shape[0];
  const graph = buildGraph(desc, weights, { kind: 'grad', path: { dfa: false, sign: 'zero', opu: 'true' }, loss: { name: 'ce', targeted: false } }, opts);
  const session = new OrtSession(graph.bytes, { threads: 1, announce: false });
  try {
    const out = session.run({
      [graph.signature.x]: { data: x.dataSync() as Float32Array, dims: x.shape },
      [graph.signature.labels!]: { data: Float32Array.from(y.dataSync()), dims: [batch, 1] },
    });
    return { logits: out[graph.signature.logits], loss: out[graph.signature.loss!], grad: out[graph.signature.grad!], names: initializerNames(graph.bytes) };
  } finally {
    session.dispose();
  }
}

/** The measured maxima, printed once per model (the equivalence numbers). */
function check(cfg: ModelConfig, label: string): void {
  const net = new Network(cfg);
  perturb(net, 4, 'winograd');
  try {
    const ref = classifierFor(net, 'natural');
    const lr = ref.logits(x);
    const g = ref.lossAndGradient!(x, y, lossFor('ce', false, y));
    const plain = run(net, { batch: x.shape[0], rowLayout: 'never', winograd: 'never' });
    expect(plain.names.filter((n) => n.includes('wino'))).toEqual([]);
    const stride1 = describeModel(cfg).features.filter((s) => s.kind === 'conv' && s.stride === 1).length;
    const maxima: string[] = [];
    for (const batch of [x.shape[0], 'N'] as const) {
      const w = run(net, { batch, winograd: 'always' });
      // every 3x3 stride-1 convolution, forward and backward, has its transformed filters
      expect(w.names.filter((n) => n.endsWith('_wino_u')).length).toBe(2 * stride1);
      const e = { logits: relErr(w.logits, plain.logits), grad: relErr(w.grad, plain.grad), tfLogits: relErr(w.logits, lr.dataSync()), tfGrad: relErr(w.grad, g.grad.dataSync()) };
      expect(e.logits).toBeLessThan(1e-5);
      expect(e.grad).toBeLessThan(1e-5);
      expect(e.tfLogits).toBeLessThan(1e-4);
      expect(relErr(w.loss, g.loss.dataSync())).toBeLessThan(1e-4);
      expect(e.tfGrad).toBeLessThan(1e-3);
      maxima.push(`batch ${batch}: vs plain logits ${e.logits.toExponential(2)} grad ${e.grad.toExponential(2)}; vs tfjs logits ${e.tfLogits.toExponential(2)} grad ${e.tfGrad.toExponential(2)}`);
    }
    // the dense 2x2 form (VGG's last block), forward and backward through the same matrix
    const d = run(net, { batch: 'N', winograd: 'never', dense2x2: 'always' });
    expect(d.names.filter((n) => n.endsWith('_d2_w')).length).toBeGreaterThanOrEqual(label === 'vgg11' ? 2 : 0);
    expect(relErr(d.logits, plain.logits)).toBeLessThan(1e-5);
    expect(relErr(d.grad, plain.grad)).toBeLessThan(1e-5);
    maxima.push(`dense 2x2: vs plain logits ${relErr(d.logits, plain.logits).toExponential(2)} grad ${relErr(d.grad, plain.grad).toExponential(2)}`);
    process.stdout.write(`winograd ${label}: ${maxima.join('; ')}\n`);
    tf.dispose([lr, g.loss, g.grad]);
  } finally {
    net.dispose();
  }
}

describe('Winograd graphs', () => {
  it('VGG: same logits and input gradients as the plain graph and tfjs, fixed and dynamic batch', () =>
    check(defaultModelConfig({ architecture: 'vgg11', width: 0.125, defense: 'none', training: 'bp', dropout: 0, seed: 5 }), 'vgg11'));
  it('RepVGG (stride-2 convolutions stay direct): same logits and gradients', () =>
    check(defaultModelConfig({ architecture: 'repvgg-a0', width: 0.125, defense: 'none', training: 'bp', dropout: 0, seed: 6 }), 'repvgg-a0'));
  it("'auto' uses Winograd on VGG-16's 4x4 maps at width 1 and the dense form on its 2x2 maps, forward and backward", () => {
    expect(dense2x2Pays(512, 512) && dense2x2Pays(128, 128)).toBe(true);
    expect(dense2x2Pays(64, 64)).toBe(false);
    expect(winogradPays(4, 512, 512) && winogradPays(4, 256, 512) && winogradPays(2, 512, 512) && winogradPays(2, 128, 128)).toBe(true);
    expect(winogradPays(8, 256, 256) || winogradPays(4, 128, 128) || winogradPays(16, 512, 512) || winogradPays(3, 512, 512)).toBe(false);
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
    const none = (): never => {
      throw new Error('no OPU');
    };
    const zeros: GraphWeights = {
      param: (name) => {
        const shape = sizes.get(name);
        if (!shape) throw new Error(`no parameter ${name}`);
        return { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape };
      },
      opuMatrix: none,
      opuRandomBackward: none,
      opuEstimate: () => null,
      feedback: () => null,
    };
    const grad = { kind: 'grad', path: { dfa: false, sign: 'zero', opu: 'true' }, loss: { name: 'ce', targeted: false } } as const;
    const count = (req: Parameters<typeof buildGraph>[2], o: GraphOptions, suffix: string): number =>
      initializerNames(buildGraph(desc, zeros, req, o).bytes).filter((n) => n.endsWith(suffix)).length;
    // Winograd: conv8-10 (4x4); dense: conv11-13 (2x2, one matrix for forward and backward); conv1-7 direct
    for (const batch of [64, 'N'] as const) {
      expect(count({ kind: 'logits' }, { batch }, '_wino_u')).toBe(3);
      expect(count({ kind: 'logits' }, { batch }, '_d2_w')).toBe(3);
    }
    expect(count(grad, { batch: 64 }, '_wino_u')).toBe(6);
    expect(count(grad, { batch: 64 }, '_d2_w')).toBe(3);
    expect(count(grad, { batch: 64, winograd: 'never', dense2x2: 'never' }, '_wino_u') + count(grad, { batch: 64, winograd: 'never', dense2x2: 'never' }, '_d2_w')).toBe(0);
  });
});
