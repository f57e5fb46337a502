#!/usr/bin/env node
/**
 * `npm run bench -- --width 0.25 1 --batch 64 --workloads forward,train,input_grad --backend wasm --repeats 3 --workers 2`
 * Prints one JSON line per (width, workload) with the fields of /work/shared/bench/torch_peer.py.
 * --workers N > 1 runs each workload data-parallel over N worker threads (src/parallel/bench-parallel.ts): each
 * gets batch/N images, img/s counts the whole batch, `threads` = N.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../backend/index';
import { isUserError, UserError } from '../util/errors';
import { benchRecord, BenchModel, bestOf, bestOfAsync, parseWorkloads } from './workloads';
import { ParallelBench } from '../parallel/bench-parallel';
import { attackThroughput, AttackWorkload, OrtBench } from './ort-workloads';

async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('opulab-bench')
    .usage('$0 [options]: time VGG-16 forward / train / input_grad like the PyTorch peer')
    .option('width', { type: 'number', array: true, default: [0.25, 1], describe: 'width multipliers' })
    .option('batch', { type: 'number', default: 64 })
    .option('workloads', { type: 'string', default: 'forward,train,input_grad' })
    .option('backend', { type: 'string', default: 'wasm', describe: 'auto | tensorflow | wasm | cpu' })
    .option('repeats', { type: 'number', default: 3 })
    .option('seed', { type: 'number', default: 0 })
    .option('workers', { type: 'number', default: 1, describe: 'worker threads (data-parallel over the batch); onnxruntime: its intra-op threads' })
    .option('engine', { type: 'string', default: 'tfjs', choices: ['tfjs', 'onnxruntime'], describe: 'tfjs (the --backend) or the ONNX Runtime engine (forward, input_grad)' })
    .option('attacks', { type: 'string', default: '', describe: 'also time attack throughput: square (queries/s), pgd (image-steps/s), comma-separated' })
    .option('attack-checkpoint', { type: 'string', describe: 'attack throughput on this trained checkpoint instead of a seeded VGG-16 of each --width' })
    .strict()
    .help()
    .parseAsync();

  const workloads = parseWorkloads(args.workloads);
  for (const w of args.width) {
    if (!(w > 0) || !Number.isFinite(w)) throw new UserError(`bad --width ${w}: expected positive numbers`);
  }
  if (!Number.isInteger(args.workers) || args.workers < 1) throw new UserError(`bad --workers ${args.workers}: expected an integer >= 1`);
  if (args.workers > args.batch) throw new UserError(`--workers ${args.workers} exceeds --batch ${args.batch}: expected at most one worker per image`);
  const info = await initBackend(args.backend, true);
  const threads = args.workers;
  const attacks = args.attacks.split(',').filter((a) => a !== '');
  for (const a of attacks) if (a !== 'square' && a !== 'pgd') throw new UserError(`unknown attack workload '${a}': expected square or pgd`);
  const engine = args.engine as 'tfjs' | 'onnxruntime';
  const impl = engine === 'onnxruntime' ? 'opulab-onnxruntime' : `opulab-${info.name}`;
  for (const width of args.width) {
    for (const a of attacks as AttackWorkload[]) {
      const r = await attackThroughput(a, engine, width, args.batch, threads, args.seed, args['attack-checkpoint']);
      const rec = benchRecord(impl, a, width, args.batch, threads, r.seconds);
      process.stdout.write(`${JSON.stringify({ ...rec, img_per_s: Math.round(r.perSecond * 100) / 100 })}\n`);
    }
    if (engine === 'onnxruntime') {
      const model = new BenchModel(width, args.batch, args.seed);
      const ort = new OrtBench(model, threads);
      try {
        const macs = ort.forwardMacs();
        for (const workload of workloads) {
          if (!ort.supports(workload)) {
            process.stderr.write(`opulab-bench: ${workload} is not an ONNX Runtime workload (training stays on tfjs); skipped\n`);
            continue;
          }
          const seconds = bestOf(() => ort.run(workload), args.repeats);
          const rec = benchRecord(impl, workload, width, args.batch, threads, seconds);
          const flops = 2 * macs * (workload === 'forward' ? 1 : 2) * args.batch;
          process.stdout.write(`${JSON.stringify({ ...rec, gflop_s: Math.round((flops / seconds / 1e9) * 10) / 10 })}\n`);
        }
      } finally {
        ort.dispose();
        model.dispose();
      }
      continue;
    }
    if (args.workers > 1) {
      const par = await ParallelBench.start(width, args.batch, args.seed, args.workers);
      try {
        for (const workload of workloads) {
          const seconds = await bestOfAsync(() => par.run(workload), args.repeats);
          process.stdout.write(`${JSON.stringify(benchRecord(`opulab-${info.name}`, workload, width, args.batch, threads, seconds))}\n`);
        }
      } finally {
        await par.close();
      }
      continue;
    }
    const model = new BenchModel(width, args.batch, args.seed);
    try {
      for (const workload of workloads) {
        const seconds = bestOf(() => model.run(workload), args.repeats);
        const rec = benchRecord(`opulab-${info.name}`, workload, width, args.batch, threads, seconds);
        process.stdout.write(`${JSON.stringify(rec)}\n`);
      }
    } finally {
      model.dispose();
    }
  }
}

main(hideBin(process.argv)).catch((err: unknown) => {
  if (isUserError(err)) {
    process.stderr.write(`opulab-bench: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
