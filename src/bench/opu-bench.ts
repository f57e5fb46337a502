#!/usr/bin/env node
/**
 * `node dist/src/bench/opu-bench.js --sizes 1024x8000 2000x10000 --modes physical,reference --batch 128`
 *
 * Simulated OPU throughput (src/optics/opu.ts OpticalProcessingUnit): projections per second of the
 * forward pass (DMD frame -> fixed random matrix -> intensity -> camera; 'physical' = complex matrix,
 * two real GEMMs per block; 'reference' = one real GEMM) and of forward + backward with the exact
 * ('true') gradient, against the real device: one projection per DMD frame at the cost model's frame
 * time (default 500 us = 2 kHz). One JSON line per (size, mode). Timing: one warm-up, best of --repeats.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../backend/index';
import { OpticalProcessingUnit, OpuMode } from '../optics/opu';
import { isUserError, UserError } from '../util/errors';
import { deriveSeed } from '../util/rng';

export interface OpuBenchRecord {
  impl: string;
  mode: OpuMode;
  opu_in: number;
  opu_out: number;
  batch: number;
  threads: number;
  setup_ms: number;
  forward_ms_per_batch: number;
  forward_projections_per_s: number;
  grad_ms_per_batch: number;
  grad_projections_per_s: number;
  device_projections_per_s: number;
  forward_vs_device: number;
  load: number[];
}

/** Parse 'INxOUT' (e.g. 1024x8000). */
export function parseSize(spec: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(spec.trim());
  if (!m) throw new UserError(`bad --sizes entry '${spec}': expected INxOUT, e.g. 1024x8000`);
  return [Number(m[1]), Number(m[2])];
}

function bestMs(fn: () => void, repeats: number): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return best;
}

const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function benchOpu(inFeatures: number, outFeatures: number, mode: OpuMode, batch: number, repeats: number, seed: number): OpuBenchRecord {
  const t0 = process.hrtime.bigint();
  const opu = new OpticalProcessingUnit({ inFeatures, outFeatures, mode, seed: deriveSeed(seed, 'opu-bench', inFeatures, outFeatures, mode) });
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // {-1,+1} input (the defended head's Sign(x - mean) encoder output), seeded
  const x = tf.tidy(() => tf.sign(tf.randomUniform([batch, inFeatures], -1, 1, 'float32', deriveSeed(seed, 'opu-bench-x'))) as tf.Tensor2D);
  const g = tf.randomNormal([batch, outFeatures], 0, 1, 'float32', deriveSeed(seed, 'opu-bench-g')) as tf.Tensor2D;
  try {
    const forwardMs = bestMs(() => tf.tidy(() => void opu.forward(x, 'none').dataSync()), repeats);
    const gradMs = bestMs(
      () =>
        tf.tidy(() => {
          const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(opu.forward(v as tf.Tensor2D, 'true'), g)))(x);
          dx.dataSync();
        }),
      repeats,
    );
    const device = 1 / opu.cost.opticalTimeSec(1);
    const fwdRate = (batch * 1000) / forwardMs;
    return {
      impl: `opulab-${tf.getBackend()}`,
      mode,
      opu_in: inFeatures,
      opu_out: outFeatures,
      batch,
      threads: 1,
      setup_ms: round(setupMs),
      forward_ms_per_batch: round(forwardMs),
      forward_projections_per_s: round(fwdRate),
      grad_ms_per_batch: round(gradMs),
      grad_projections_per_s: round((batch * 1000) / gradMs),
      device_projections_per_s: round(device),
      forward_vs_device: round(fwdRate / device, 3),
      load: os.loadavg().map((l) => round(l, 2)),
    };
  } finally {
    tf.dispose([x, g]);
    opu.dispose();
  }
}

async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('opulab-opu-bench')
    .usage('$0 [options]: simulated OPU projections/s versus the 2 kHz device')
    .option('sizes', { type: 'string', array: true, default: ['1024x8000', '2000x10000'], describe: 'INxOUT pairs' })
    .option('modes', { type: 'string', default: 'physical,reference' })
    .option('batch', { type: 'number', default: 128 })
    .option('backend', { type: 'string', default: 'wasm', describe: 'auto | tensorflow | wasm | cpu' })
    .option('repeats', { type: 'number', default: 3 })
    .option('seed', { type: 'number', default: 0 })
    .strict()
    .help()
    .parseAsync();
  const sizes = args.sizes.map(parseSize);
  const modes = args.modes.split(',').map((m) => m.trim());
  for (const m of modes) {
    if (m !== 'physical' && m !== 'reference') throw new UserError(`unknown mode '${m}' in --modes: expected physical, reference`);
  }
  if (!Number.isInteger(args.batch) || args.batch < 1) throw new UserError(`bad --batch ${args.batch}: expected a positive integer`);
  if (!Number.isInteger(args.repeats) || args.repeats < 1) throw new UserError(`bad --repeats ${args.repeats}: expected a positive integer`);
  await initBackend(args.backend, true);
  for (const [inF, outF] of sizes) {
    for (const mode of modes as OpuMode[]) {
      process.stdout.write(`${JSON.stringify(benchOpu(inF, outF, mode, args.batch, args.repeats, args.seed))}\n`);
    }
  }
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: unknown) => {
    if (isUserError(err)) {
      process.stderr.write(`opulab-opu-bench: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
