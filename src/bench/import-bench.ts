/**
 * White-box step throughput of an imported model (src/import), its two gradient engines A/B in one process: the
 * ONNX Runtime backward graph (src/import/onnx-backward.ts, the default) and the graph mapped onto tfjs ops and
 * differentiated (--engine tfjs). For a VGG-16 (baseline, BatchNorm) exported with `opulab export` and loaded as a
 * model file, also opulab's native ONNX Runtime gradient graph (src/engine) and the tfjs Network of the same
 * weights. Timed steps are interleaved (one step of each engine per round), so load drifts hit all alike. Checks
 * that the gradients agree.
 *
 *   node dist/src/bench/import-bench.js [--width 1] [--batch 64] [--repeats 3]
 *   node dist/src/bench/import-bench.js --file model.onnx [--batch 64] [--repeats 3]
 *
 * `--equivalence N` (with OPULAB_DATA_DIR): on the first N real CIFAR-10 test images, the two imported engines'
 * predictions, per-image input gradients (1e-3 relative) and PGD (10 steps, L-inf, seed 3) successes at
 * `--eq-eps E` (in 1/255 units, default 8).
 */
import * as fs from 'fs';
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
import { relErr } from '../util/numeric';
import { loadDataset } from '../../datasets/load';
import { takeTensors } from '../../datasets/batches';
import { resolveAttack } from '../plugins/attack';
import type { Classifier } from '../types';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function textArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Images whose gradient differs from `b`'s by more than 1e-3 relative (per image), of the batch. */
function imagesOff(a: Float32Array, b: Float32Array, batch: number): number {
  const per = a.length / batch;
  let off = 0;
  for (let i = 0; i < batch; i++) if (relErr(a.subarray(i * per, (i + 1) * per), b.subarray(i * per, (i + 1) * per)) > 1e-3) off++;
  return off;
}

async function main(): Promise<void> {
  const width = arg('width', 1);
  const batch = arg('batch', 64);
  const repeats = arg('repeats', 3);
  const backend = await initBackend('wasm', true);
  const file = textArg('file');
  const rows: { name: string; c: Classifier }[] = [];
  let net: Network | null = null;
  let title: string;
  let shape: [number, number, number] = [32, 32, 3];
  let classes = 10;
  if (file) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const ort = new OnnxClassifier(bytes, file, { announce: false });
    const tfj = new OnnxClassifier(bytes, file, { engine: 'tfjs', announce: false });
    shape = [...ort.inputShape] as [number, number, number];
    classes = ort.numClasses;
    rows.push({ name: 'imported ONNX, ONNX Runtime backward graph (default)', c: ort }, { name: 'imported ONNX, tfjs mapping (--engine tfjs)', c: tfj });
    title = `${file} (${ort.info.producer}, opset ${ort.info.opset})`;
  } else {
    net = new Network(defaultModelConfig({ architecture: 'vgg16', width, defense: 'none', training: 'bp', dropout: 0, seed: 1 }));
    const rng = makeRng(1, 'bench-bn');
    for (const p of net.store.list()) {
      const n = p.variable.size;
      if (p.name.endsWith('running_var') || p.name.endsWith('gamma')) p.variable.assign(tf.tensor(Float32Array.from({ length: n }, () => rng.range(0.5, 1.5)), p.variable.shape));
      else if (p.name.endsWith('running_mean') || p.name.endsWith('beta')) p.variable.assign(tf.tensor(Float32Array.from({ length: n }, () => rng.range(-0.2, 0.2)), p.variable.shape));
    }
    const exported = exportModel(net);
    const tfjsNative = classifierFor(net, 'natural');
    rows.push(
      { name: 'imported ONNX, ONNX Runtime backward graph (default)', c: new OnnxClassifier(exported.bytes, 'vgg16.onnx', { announce: false }) },
      { name: 'imported ONNX, tfjs mapping (--engine tfjs)', c: new OnnxClassifier(exported.bytes, 'vgg16.onnx', { engine: 'tfjs', announce: false }) },
      { name: 'opulab-native ONNX Runtime gradient graph (src/engine)', c: new OrtClassifier(net, resolveGradientMode(net, 'natural'), tfjsNative, { announce: false }) },
      { name: 'opulab-native tfjs Network', c: tfjsNative },
    );
    title = `VGG-16 width ${width} (opulab export)`;
  }
  const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % classes), 'int32');
  const loss = lossFor('ce', false);
  const step = (c: Classifier): Float32Array => {
    const o = c.lossAndGradient!(x, y, loss);
    const g = o.grad.dataSync() as Float32Array;
    tf.dispose([o.grad, o.loss]);
    return g;
  };
  // warm-up (builds graphs and sessions), then interleaved timed rounds
  const grads = rows.map((r) => step(r.c));
  const seconds = rows.map(() => 0);
  for (let round = 0; round < repeats; round++) {
    rows.forEach((r, i) => {
      const t0 = process.hrtime.bigint();
      step(r.c);
      seconds[i] += Number(process.hrtime.bigint() - t0) / 1e9;
    });
  }
  process.stdout.write(`${title}, batch ${batch}, ${repeats} timed steps each after one warm-up, interleaved; backend ${backend.name}\n`);
  const ref = grads[rows.length > 2 ? 2 : 1];
  const refName = rows.length > 2 ? 'native ORT graph' : 'tfjs mapping';
  rows.forEach((r, i) => {
    const ips = (batch * repeats) / seconds[i];
    process.stdout.write(`${r.name.padEnd(56)} ${ips.toFixed(1).padStart(8)} img/s   gradient rel. err vs ${refName} ${relErr(grads[i], ref).toExponential(2)}; images off by > 1e-3: ${imagesOff(grads[i], ref, batch)}\n`);
  });
  tf.dispose([x, y]);
  const eqN = arg('equivalence', 0);
  if (eqN > 0) await equivalence(rows[0].c, rows[1].c, eqN, batch);
  for (const r of rows) (r.c as { dispose?: () => void }).dispose?.();
  net?.dispose();
}

/** The imported model's two gradient engines on real CIFAR-10 test images (see the module comment). */
async function equivalence(ort: Classifier, tfj: Classifier, n: number, batch: number): Promise<void> {
  const test = loadDataset('cifar10', 'test', { dataDir: process.env.OPULAB_DATA_DIR, limit: n });
  const { x, y } = takeTensors(test, Array.from({ length: test.n }, (_, i) => i));
  const labels = Int32Array.from(y.dataSync());
  let predDiffer = 0;
  let gradOff = 0;
  let worst = 0;
  let correct = 0;
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    const xb = tf.slice(x, [i, 0, 0, 0], [size, -1, -1, -1]);
    const yb = tf.slice(y, i, size);
    const pa = tf.tidy(() => tf.argMax(ort.logits(xb), 1).dataSync());
    const pb = tf.tidy(() => tf.argMax(tfj.logits(xb), 1).dataSync());
    for (let j = 0; j < size; j++) {
      if (pa[j] !== pb[j]) predDiffer++;
      if (pa[j] === labels[i + j]) correct++;
    }
    const a = ort.lossAndGradient!(xb, yb, lossFor('ce', false));
    const b = tfj.lossAndGradient!(xb, yb, lossFor('ce', false));
    const ga = a.grad.dataSync() as Float32Array;
    const gb = b.grad.dataSync() as Float32Array;
    const per = ga.length / size;
    for (let j = 0; j < size; j++) {
      const e = relErr(ga.subarray(j * per, (j + 1) * per), gb.subarray(j * per, (j + 1) * per));
      worst = Math.max(worst, e);
      if (e > 1e-3) gradOff++;
    }
    tf.dispose([xb, yb, a.grad, a.loss, b.grad, b.loss]);
  }
  const eps = arg('eq-eps', 8);
  const pgd = async (c: Classifier): Promise<boolean[]> => {
    const [o] = await resolveAttack('pgd', { steps: 10, norm: 'linf' }).run(c, x, labels, [eps / 255], { seed: 3 });
    tf.dispose(o.adversarial);
    return o.success;
  };
  const sa = await pgd(ort);
  const sb = await pgd(tfj);
  const differ = sa.filter((v, i) => v !== sb[i]).length;
  process.stdout.write(
    `real CIFAR-10 test, ${n} images: clean accuracy ${((100 * correct) / n).toFixed(1)}%; predictions differing ${predDiffer}; ` +
      `CE gradients off by > 1e-3 relative: ${gradOff} (worst ${worst.toExponential(2)}); ` +
      `PGD-10 L-inf ${eps}/255 successes ${sa.filter(Boolean).length} (ORT graph) vs ${sb.filter(Boolean).length} (tfjs mapping), differing images ${differ}\n`,
  );
  tf.dispose([x, y]);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
