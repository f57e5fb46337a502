/**
 * Rebuilds the network of train_torch_cifar.py as a TensorFlow.js LayersModel (NHWC) from the weights
 * export_weights.py dumped, checks its logits against PyTorch's on the first test images, and saves it as
 * model.json + weights.bin. The normalization stays outside (give the mean/std it prints to the loader), so the
 * LayersModel is the PyTorch network after its Normalize step.
 *
 * Layout mapping: conv kernels OIHW -> HWIO; a stride-2 3x3 conv with padding 1 is ZeroPadding2D(1) + a valid
 * conv (TensorFlow's 'same' pads such a conv asymmetrically, PyTorch symmetrically); BatchNorm weights in the
 * order gamma, beta, moving mean, moving variance (eps 1e-5 as in PyTorch); Linear weight [out, in] -> [in, out].
 *
 *   npm run build && node scripts/peer/torch_to_tfjs.js /work/byom/weights.json /work/byom/tfjs_model/model.json [torch_logits.bin]
 */
const fs = require('fs');
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const opulab = require('../../dist/src/index.js');

async function main() {
  const [weightsFile, out, torchLogits] = process.argv.slice(2);
  await opulab.initBackend('wasm', true);
  const w = JSON.parse(fs.readFileSync(weightsFile, 'utf8'));
  const t = (name, perm) => {
    const x = tf.tensor(w[name].data, w[name].shape);
    return perm ? tf.transpose(x, perm) : x;
  };
  const layers = [];
  const conv = (x, name, filters, stride) => {
    if (stride === 2) x = tfl.layers.zeroPadding2d({ padding: 1 }).apply(x);
    const l = tfl.layers.conv2d({ filters, kernelSize: 3, strides: stride, padding: stride === 2 ? 'valid' : 'same', useBias: false });
    layers.push([l, [t(`${name}.weight`, [2, 3, 1, 0])]]);
    return l.apply(x);
  };
  const bn = (x, name) => {
    const l = tfl.layers.batchNormalization({ epsilon: 1e-5 });
    layers.push([l, ['weight', 'bias', 'running_mean', 'running_var'].map((k) => t(`${name}.${k}`))]);
    return l.apply(x);
  };
  const relu = (x) => tfl.layers.reLU().apply(x);
  const convBn = (x, i, filters, stride) => relu(bn(conv(x, `features.${i}.0`, filters, stride), `features.${i}.1`));
  const residual = (x, i, filters) => {
    const y = relu(bn(conv(x, `features.${i}.a`, filters, 1), `features.${i}.bn_a`));
    return relu(tfl.layers.add().apply([x, bn(conv(y, `features.${i}.b`, filters, 1), `features.${i}.bn_b`)]));
  };
  const input = tfl.input({ shape: [32, 32, 3] });
  let x = convBn(input, 1, 16, 1);
  x = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x);
  x = residual(x, 3, 16);
  x = residual(convBn(x, 4, 32, 2), 5, 32);
  x = residual(convBn(x, 6, 64, 2), 7, 64);
  x = tfl.layers.globalAveragePooling2d({}).apply(x);
  const fc = tfl.layers.dense({ units: 10 });
  layers.push([fc, [t('fc.weight', [1, 0]), t('fc.bias')]]);
  const model = tfl.model({ inputs: input, outputs: fc.apply(x) });
  for (const [l, ws] of layers) l.setWeights(ws);
  await model.save(opulab.tfjsFileHandler(out));
  const mean = w['features.0.mean'].data;
  const std = w['features.0.std'].data;
  const report = { out, mean, std };
  if (torchLogits) {
    // compare with PyTorch on the same first test images (the loader applies the normalization)
    const c = await opulab.loadTfjsClassifier(out, { mean, std });
    const ref = new Float32Array(fs.readFileSync(torchLogits).buffer.slice(0));
    const n = ref.length / 10;
    const test = opulab.loadDataset('cifar10', 'test', { limit: n });
    const { x: xs } = opulab.takeTensors(test, [...test.labels.keys()]);
    const got = await c.logits(xs).data();
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i] - got[i]));
    report.images = n;
    report.maxAbsLogitDiffVsTorch = diff;
  }
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
