/**
 * White-box step throughput of an imported model (src/import) against opulab's own engines, same weights and
 * batch: a VGG-16 (baseline, BatchNorm) exported with `opulab export` and loaded as a model file, whose input
 * gradient is the ONNX graph mapped onto tfjs ops and differentiated, against the native ONNX Runtime gradient
 * graph (src/engine) and the tfjs Network of the same weights. Also checks that the three gradients agree.
 *
 *   node dist/src/bench/import-bench.js [--width 1] [--batch 64] [--repeats 3]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend';
import { Network } from '../models/network';
import { defaultModelConfig } from '../models/config';
import { classifierFor, resolveGradientMode } from '../models/classifier';
import { OrtClassifier } from '../engine/classifier';
import { exportModel } from '../engine/export';
import { OnnxClassifier } from '../import/onnx';
import { lossFor } from '../../attacks/losses';
import { makeRng } from '../util/rng';
import type { Classifier } from '../types';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Images whose gradient differs from `b`'s by more than 1e-3 relative (per image), of the batch. */
function imagesOff(a: Float32Array, b: Float32Array, batch: number): number {
  const per = a.length / batch;
  let off = 0;
  for (let i = 0; i < batch; i++) if (relErr(a.subarray(i * per, (i + 1) * per), b.subarray(i * per, (i + 1) * per)) > 1e-3) off++;
  return off;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

async function main(): Promise<void> {
  const width = arg('width', 1);
  const batch = arg('batch', 64);
  const repeats = arg('repeats', 3);
  const backend = await initBackend('wasm', true);
  const net = new Network(defaultModelConfig({ architecture: 'vgg16', width, defense: 'none', training: 'bp', dropout: 0, seed: 1 }));
  const rng = makeRng(1, 'bench-bn');
  for (const p of net.store.list()) {
    const n = p.variable.size;
    if (p.name.endsWith('running_var') || p.name.endsWith('gamma')) p.variable.assign(tf.tensor(Float32Array.from({ length: n }, () => rng.range(0.5, 1.5)), p.variable.shape));
    else if (p.name.endsWith('running_mean') || p.name.endsWith('beta')) p.variable.assign(tf.tensor(Float32Array.from({ length: n }, () => rng.range(-0.2, 0.2)), p.variable.shape));
  }
  const exported = exportModel(net);
  const imported = new OnnxClassifier(exported.bytes, 'vgg16.onnx', { announce: false });
  const tfjsNative = classifierFor(net, 'natural');
  const ortNative = new OrtClassifier(net, resolveGradientMode(net, 'natural'), tfjsNative, { announce: false });
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32');
  const loss = lossFor('ce', false);
  const time = (c: Classifier): { imgPerSec: number; grad: Float32Array } => {
    const warm = c.lossAndGradient!(x, y, loss);
    const grad = warm.grad.dataSync() as Float32Array;
    tf.dispose([warm.grad, warm.loss]);
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < repeats; r++) {
      const o = c.lossAndGradient!(x, y, loss);
      o.grad.dataSync();
      tf.dispose([o.grad, o.loss]);
    }
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    return { imgPerSec: (batch * repeats) / sec, grad };
  };
  const rows: [string, ReturnType<typeof time>][] = [
    ['imported ONNX, gradient by tfjs mapping (src/import)', time(imported)],
    ['opulab-native ONNX Runtime gradient graph (src/engine)', time(ortNative)],
    ['opulab-native tfjs Network', time(tfjsNative)],
  ];
  const ref = rows[2][1].grad;
  process.stdout.write(`VGG-16 width ${width}, batch ${batch}, ${repeats} timed steps after one warm-up; backend ${backend.name}\n`);
  const ort = rows[1][1].grad;
  for (const [name, r] of rows) {
    process.stdout.write(`${name.padEnd(56)} ${r.imgPerSec.toFixed(1).padStart(8)} img/s   gradient rel. err vs ORT graph ${relErr(r.grad, ort).toExponential(2)}, vs tfjs Network ${relErr(r.grad, ref).toExponential(2)}; images off by > 1e-3: ${imagesOff(r.grad, ort, batch)} vs ORT, ${imagesOff(r.grad, ref, batch)} vs tfjs\n`);
  }
  tf.dispose([x, y]);
  imported.dispose();
  ortNative.dispose();
  net.dispose();
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
