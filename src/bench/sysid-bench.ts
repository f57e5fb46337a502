#!/usr/bin/env node
/**
 * `node dist/src/bench/sysid-bench.js --size 512x8000 --queries 2000,20000 --modes reference,physical`
 *
 * System identification (src/optics/sysid.ts, the queries of bpda-estimated:N) with its OPU queries answered by
 * the OPU layer on tfjs or by the OPU + camera graph on ONNX Runtime (src/engine/opu-queries.ts). One JSON line per
 * (mode, queries, engine): queries per second of the whole estimation (queries + the estimator's least squares,
 * which run on tfjs either way) and of the queries alone, with the seconds of each. Before each estimation one
 * warm-up query batch (matrix generation, graph building, session start) that is not counted. Engines alternate
 * per query count, so a changing machine load falls on both alike.
 */
import * as os from 'os';
import { availableCores } from '../util/cores';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index';
import { OpticalProcessingUnit, OpuMode } from '../optics/opu';
import type { BlackBoxOpu } from '../optics/sysid';
import { OrtOpuQueries } from '../engine/opu-queries';
import { parseSize } from './opu-bench';
import { isUserError, UserError } from '../util/errors';

export interface SysidBenchRecord {
  engine: 'tfjs' | 'onnxruntime';
  mode: OpuMode;
  opu_in: number;
  opu_out: number;
  queries: number;
  method: string;
  threads: number;
  estimate_s: number;
  queries_s: number;
  estimate_queries_per_s: number;
  query_only_queries_per_s: number;
  load: number[];
}

/** `box` with the time spent in its queries added to `timer.s`. */
function timed(box: BlackBoxOpu, timer: { s: number }): BlackBoxOpu {
  return {
    inFeatures: box.inFeatures,
    outFeatures: box.outFeatures,
    mode: box.mode,
    inputValues: box.inputValues,
    measure(x) {
      const t0 = process.hrtime.bigint();
      const y = box.measure(x);
      y.dataSync(); // the readout is ready (tfjs may compute lazily)
      timer.s += Number(process.hrtime.bigint() - t0) / 1e9;
      return y;
    },
  };
}

export function benchSysid(inFeatures: number, outFeatures: number, mode: OpuMode, queries: number, engine: 'tfjs' | 'onnxruntime', threads: number): SysidBenchRecord {
  const opu = new OpticalProcessingUnit({ inFeatures, outFeatures, mode, seed: 7 });
  const ort = engine === 'onnxruntime' ? new OrtOpuQueries(opu, { threads, announce: false }) : null;
  try {
    const box: BlackBoxOpu = ort ?? opu;
    tf.tidy(() => box.measure(tf.ones([64, inFeatures])).dataSync());
    const timer = { s: 0 };
    const t0 = process.hrtime.bigint();
    const est = opu.estimateFromQueries(queries, 3, {}, timed(box, timer));
    const total = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      engine,
      mode,
      opu_in: inFeatures,
      opu_out: outFeatures,
      queries: est.queries,
      method: est.method,
      threads,
      estimate_s: Number(total.toFixed(3)),
      queries_s: Number(timer.s.toFixed(3)),
      estimate_queries_per_s: Math.round(est.queries / total),
      query_only_queries_per_s: Math.round(est.queries / timer.s),
      load: os.loadavg().map((v) => Number(v.toFixed(2))),
    };
  } finally {
    ort?.dispose();
    opu.dispose();
  }
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('size', { type: 'string', default: '512x8000', describe: 'OPU INxOUT' })
    .option('queries', { type: 'string', default: '2000,20000', describe: 'comma-separated query counts' })
    .option('modes', { type: 'string', default: 'reference,physical', describe: 'comma-separated OPU modes' })
    .option('engines', { type: 'string', default: 'tfjs,onnxruntime' })
    .option('threads', { type: 'number', default: availableCores(), describe: 'ONNX Runtime intra-op threads' })
    .strict()
    .parse();
  const [n, m] = parseSize(argv.size);
  const counts = argv.queries.split(',').map((q) => {
    const v = Number(q);
    if (!Number.isInteger(v) || v < 1) throw new UserError(`bad --queries entry '${q}': expected a positive integer`);
    return v;
  });
  const modes = argv.modes.split(',') as OpuMode[];
  for (const mode of modes) if (mode !== 'reference' && mode !== 'physical') throw new UserError(`bad --modes entry '${mode}': expected reference or physical`);
  const engines = argv.engines.split(',');
  for (const e of engines) if (e !== 'tfjs' && e !== 'onnxruntime') throw new UserError(`bad --engines entry '${e}': expected tfjs or onnxruntime`);
  const backend = await initBackend('auto', true);
  process.stderr.write(`sysid-bench: tfjs backend ${backend.name}, ${availableCores()} cores\n`);
  for (const mode of modes) {
    for (const q of counts) {
      for (const engine of engines as ('tfjs' | 'onnxruntime')[]) process.stdout.write(`${JSON.stringify(benchSysid(n, m, mode, q, engine, argv.threads))}\n`);
    }
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`sysid-bench: ${isUserError(e) ? e.message : e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(isUserError(e) ? 2 : 1);
  });
}
