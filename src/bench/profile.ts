#!/usr/bin/env node
/**
 * `node dist/src/bench/profile.js --width 0.25 1 --batch 64 --workloads train,input_grad --backend wasm`
 *
 * Where one benchmark step's time goes, per kernel (tf.profile: every kernel the engine dispatches, timed
 * by the backend; for wasm that is the synchronous wall time of the kernel). The model and workloads are
 * those of `npm run bench` (workloads.ts). One warm-up step, then one profiled step; the table is sorted by
 * total time. "% of step" is relative to the profiled step's wall time; the row "(outside kernels)" is the
 * rest (JS: tape bookkeeping, gradient closures, tidy, dispose). The profiled step is slower than an
 * unprofiled one (the profiler snapshots memory per kernel), which the "unprofiled step" line shows.
 */
import * as tf from '@tensorflow/tfjs-core';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../backend/index';
import { isUserError, UserError } from '../util/errors';
import { BenchModel, parseWorkloads, Workload } from './workloads';

export interface KernelRow {
  kernel: string;
  totalMs: number;
  calls: number;
  percentOfStep: number;
}

export interface StepProfile {
  workload: Workload;
  width: number;
  batch: number;
  stepMs: number;
  unprofiledStepMs: number;
  rows: KernelRow[];
}

/** Aggregate tf.profile's kernel list by name, sorted by total time (descending). */
export function aggregateKernels(kernels: { name: string; kernelTimeMs: number }[], stepMs: number): KernelRow[] {
  const byName = new Map<string, { totalMs: number; calls: number }>();
  for (const k of kernels) {
    const row = byName.get(k.name) ?? { totalMs: 0, calls: 0 };
    row.totalMs += k.kernelTimeMs;
    row.calls += 1;
    byName.set(k.name, row);
  }
  const rows = [...byName.entries()].map(([kernel, r]) => ({
    kernel,
    totalMs: r.totalMs,
    calls: r.calls,
    percentOfStep: stepMs > 0 ? (100 * r.totalMs) / stepMs : 0,
  }));
  rows.sort((a, b) => b.totalMs - a.totalMs);
  const inKernels = rows.reduce((s, r) => s + r.totalMs, 0);
  rows.push({
    kernel: '(outside kernels)',
    totalMs: Math.max(0, stepMs - inKernels),
    calls: 0,
    percentOfStep: stepMs > 0 ? (100 * Math.max(0, stepMs - inKernels)) / stepMs : 0,
  });
  return rows;
}

function timeMs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function profileStep(model: BenchModel, workload: Workload): Promise<StepProfile> {
  model.run(workload); // warm-up (kernel setup, XNNPACK operator caches)
  const unprofiledStepMs = timeMs(() => model.run(workload));
  let stepMs = 0;
  const info = await tf.profile(() => {
    stepMs = timeMs(() => model.run(workload));
  });
  const kernels = await Promise.all(
    info.kernels.map(async (k) => ({ name: k.name, kernelTimeMs: Number(await k.kernelTimeMs) })),
  );
  return { workload, width: model.width, batch: model.batch, stepMs, unprofiledStepMs, rows: aggregateKernels(kernels, stepMs) };
}

export function formatProfile(p: StepProfile, top: number, load: number[]): string {
  const lines = [
    `== ${p.workload} width ${p.width} batch ${p.batch}: profiled step ${p.stepMs.toFixed(0)} ms, ` +
      `unprofiled step ${p.unprofiledStepMs.toFixed(0)} ms (${((p.batch * 1000) / p.unprofiledStepMs).toFixed(1)} img/s), ` +
      `load ${load.map((l) => l.toFixed(2)).join(' ')}`,
    `${'kernel'.padEnd(26)}${'total ms'.padStart(10)}${'calls'.padStart(7)}${'% of step'.padStart(11)}`,
  ];
  const outside = p.rows[p.rows.length - 1];
  const kernels = p.rows.slice(0, -1);
  const shown = kernels.slice(0, top);
  const rest = kernels.slice(top);
  for (const r of [...shown, ...(rest.length ? [restRow(rest, p.stepMs)] : []), outside]) {
    lines.push(`${r.kernel.padEnd(26)}${r.totalMs.toFixed(1).padStart(10)}${String(r.calls).padStart(7)}${r.percentOfStep.toFixed(1).padStart(10)}%`);
  }
  return lines.join('\n');
}

function restRow(rest: KernelRow[], stepMs: number): KernelRow {
  const totalMs = rest.reduce((s, r) => s + r.totalMs, 0);
  return {
    kernel: `(${rest.length} other kernels)`,
    totalMs,
    calls: rest.reduce((s, r) => s + r.calls, 0),
    percentOfStep: stepMs > 0 ? (100 * totalMs) / stepMs : 0,
  };
}

async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('opulab-profile')
    .usage('$0 [options]: per-kernel time of one VGG-16 benchmark step')
    .option('width', { type: 'number', array: true, default: [0.25, 1], describe: 'width multipliers' })
    .option('batch', { type: 'number', default: 64 })
    .option('workloads', { type: 'string', default: 'train,input_grad' })
    .option('backend', { type: 'string', default: 'wasm', describe: 'auto | tensorflow | wasm | cpu' })
    .option('top', { type: 'number', default: 15, describe: 'kernels listed before the rest is summed' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON line per step instead of a table' })
    .option('seed', { type: 'number', default: 0 })
    .strict()
    .help()
    .parseAsync();
  const workloads = parseWorkloads(args.workloads);
  for (const w of args.width) {
    if (!(w > 0) || !Number.isFinite(w)) throw new UserError(`bad --width ${w}: expected positive numbers`);
  }
  if (!Number.isInteger(args.top) || args.top < 1) throw new UserError(`bad --top ${args.top}: expected a positive integer`);
  await initBackend(args.backend, true);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const os = require('os') as typeof import('os');
  for (const width of args.width) {
    const model = new BenchModel(width, args.batch, args.seed);
    try {
      for (const workload of workloads) {
        const p = await profileStep(model, workload);
        if (args.json) {
          process.stdout.write(`${JSON.stringify({ ...p, backend: tf.getBackend(), load: os.loadavg() })}\n`);
        } else {
          process.stdout.write(`${formatProfile(p, args.top, os.loadavg())}\n\n`);
        }
      }
    } finally {
      model.dispose();
    }
  }
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: unknown) => {
    if (isUserError(err)) {
      process.stderr.write(`opulab-profile: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
