/**
 * Throughput of the batched query loop versus plain forward calls of the same batch sizes on a toy model
 * (printed, not asserted: timings on a shared machine are noisy). Asserts only that the loop made the
 * calls it claims.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { createBlackboxAttack } from '../attacks/blackbox';
import { predictedLabels, randomImages, RowRecorder, ToyLinear } from './helpers/blackbox-toys';

beforeAll(async () => {
  await initBackend('cpu', true);
});

async function plainForward(model: ToyLinear, calls: number[], shape: [number, number, number]): Promise<number> {
  const d = shape[0] * shape[1] * shape[2];
  const buf = new Float32Array(Math.max(...calls) * d).fill(0.5);
  const t0 = process.hrtime.bigint();
  for (const rows of calls) {
    const x = tf.tensor4d(buf.subarray(0, rows * d), [rows, ...shape]);
    const z = model.logits(x);
    await z.data();
    x.dispose();
    z.dispose();
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

test.each([
  ['square', { norm: 'linf', maxQueries: 40 }],
  ['nes', { maxQueries: 106, samples: 20 }],
])('%s loop vs plain forward', async (name, params) => {
  const shape: [number, number, number] = [32, 32, 3];
  const model = new ToyLinear(shape, 10, 1);
  const x = randomImages(32, shape, 2);
  const labels = predictedLabels(model, x);
  const rec = new RowRecorder(model);
  const t0 = process.hrtime.bigint();
  const [out] = await createBlackboxAttack(name, params).run(rec, x, labels, [0.001], { seed: 0 });
  const loop = Number(process.hrtime.bigint() - t0) / 1e9;
  const plain = await plainForward(model, rec.calls, shape);
  const rows = rec.totalRows();
  // eslint-disable-next-line no-console
  console.log(
    `${name}: ${rec.calls.length} calls, ${rows} rows; loop ${(rows / loop).toFixed(0)} queries/s, ` +
      `plain forward ${(rows / plain).toFixed(0)} rows/s, overhead x${(loop / plain).toFixed(2)}`,
  );
  expect(rec.calls[0]).toBe(32);
  expect(out.queries?.every((q) => q <= (params.maxQueries as number))).toBe(true);
  out.adversarial.dispose();
  x.dispose();
  model.dispose();
});
