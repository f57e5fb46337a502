/**
 * opulab's PGD and Square, through the library API, on the PyTorch-trained network rebuilt as a TensorFlow.js
 * model by torch_to_tfjs.js: the same settings as attack_torch.py (L-inf 8/255; PGD 10 steps of 2/255 with a
 * random start; Square 1000 queries, p_init as given), on the first N CIFAR-10 test images. Prints one JSON line.
 *
 *   node scripts/peer/attack_opulab_tfjs.js /work/byom/tfjs_model/model.json 500 0.8
 */
const opulab = require('../../dist/src/index.js');

const CIFAR_MEAN = [0.4914, 0.4822, 0.4465];
const CIFAR_STD = [0.247, 0.2435, 0.2616];

async function main() {
  const [file, nText = '500', pInitText = '0.8'] = process.argv.slice(2);
  await opulab.initBackend('wasm', true);
  const model = await opulab.loadTfjsClassifier(file, { mean: CIFAR_MEAN, std: CIFAR_STD });
  const test = opulab.loadDataset('cifar10', 'test', { limit: Number(nText) });
  const data = { x: opulab.takeTensors(test, [...test.labels.keys()]).x, labels: test.labels };
  const opts = { seed: 0, batchSize: 100, epsSpace: 'pixel', modelId: model.id };
  const out = { model: file, n: test.n, eps: 8 / 255 };
  for (const attack of [new opulab.Pgd({ steps: 10, stepSize: 2 / 255 }), new opulab.SquareAttack({ maxQueries: 1000, pInit: Number(pInitText) })]) {
    const started = Date.now();
    const [{ run }] = await opulab.evaluateAttack(model, data, attack, [8 / 255], opts);
    out.cleanAccuracy = run.cleanAccuracy;
    out[run.attack] = { params: attack.params, robustAccuracy: run.robustAccuracy, queries: run.queries, seconds: (Date.now() - started) / 1000 };
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
