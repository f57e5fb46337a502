#!/usr/bin/env node
/**
 * `node dist/src/bench/ort-layout.js --width 1 0.25 --batch 64 --threads 2 --rounds 6 [--profile DIR]`
 *
 * A/B of the ONNX Runtime graphs' convolution forms (src/engine/builder.ts: --layouts, see LAYOUTS; 'never' = the plain batch
 * layout, 'auto' = small maps with many channels on the batch laid side by side), in ONE process: the variants'
 * runs alternate, so a loaded machine's drift hits both alike. Per variant: the best and the median img/s of the
 * rounds, the CPU seconds per batch (process CPU time: less sensitive to other processes than wall time) and
 * GFLOP/s (2 FLOPs per multiply-add; input_grad = forward + input backward). With --profile DIR, ONNX Runtime's
 * per-operator profile of each variant: time per operator type per run, and the ten slowest nodes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { initBackend } from '../backend/index';
import { isUserError, UserError } from '../util/errors';
import { BenchModel, benchForwardMacs, Workload } from './workloads';
import { OrtBench } from './ort-workloads';
import { GraphBuilder } from '../engine/onnx-graph';
import { emitConv3x3, Conv3x3Form, GraphOptions } from '../engine/builder';
import { OrtSession } from '../engine/session';
import { makeRng } from '../util/rng';
import { median } from '../util/numeric';

/**
 * A whole-graph variant of src/engine/builder.ts's convolution forms: 'never' all direct, 'auto' the row layout
 * only (the forms before Winograd), 'wino-auto' the defaults (dense 2x2, Winograd, rows where each pays),
 * 'wino-always' Winograd on every even map.
 */
type Layout = 'never' | 'auto' | 'wino-auto' | 'wino-always';
type Forms = Required<Pick<GraphOptions, 'rowLayout' | 'winograd' | 'dense2x2'>>;
const LAYOUTS: Record<Layout, Forms> = {
  never: { rowLayout: 'never', winograd: 'never', dense2x2: 'never' },
  auto: { rowLayout: 'auto', winograd: 'never', dense2x2: 'never' },
  'wino-auto': { rowLayout: 'auto', winograd: 'auto', dense2x2: 'auto' },
  'wino-always': { rowLayout: 'auto', winograd: 'always', dense2x2: 'never' },
};

/** The distinct 3x3 convolution shapes (map size, in, out channels) of CIFAR VGG-16 at a width. */
function vggConvShapes(width: number): { hw: number; cin: number; cout: number }[] {
  const plan: [number, number][] = [
    [32, 64], [32, 64], [16, 128], [16, 128], [8, 256], [8, 256], [8, 256], [4, 512], [4, 512], [4, 512], [2, 512], [2, 512], [2, 512],
  ];
  const out: { hw: number; cin: number; cout: number }[] = [];
  let c = 3;
  for (const [hw, ch] of plan) {
    const co = Math.max(1, Math.round(ch * width));
    if (!out.some((o) => o.hw === hw && o.cin === c && o.cout === co)) out.push({ hw, cin: c, cout: co });
    c = co;
  }
  return out;
}

/**
 * Per-layer A/B: one 3x3 stride-1 convolution (+ bias + ReLU; the backward form has neither) per graph, every
 * form alternating in one process; ms per batch (best wall, best CPU) per form.
 */
function layerAb(width: number, batch: number, threads: number, rounds: number, seed: number, forms: Conv3x3Form[]): void {
  const rng = makeRng(seed, 'ort-layers');
  for (const { hw, cin, cout } of vggConvShapes(width)) {
    if (cin < 8) continue;
    for (const pass of ['forward', 'backward'] as const) {
      // backward: the input gradient's convolution, channels swapped, no bias or ReLU
      const [ci, co] = pass === 'forward' ? [cin, cout] : [cout, cin];
      const kernel = Float32Array.from({ length: co * ci * 9 }, () => rng.range(-0.1, 0.1));
      const bias = Float32Array.from({ length: co }, () => rng.range(-0.1, 0.1));
      const x = Float32Array.from({ length: batch * ci * hw * hw }, () => rng.range(-1, 1));
      const runs = forms.filter((f) => f !== 'dense' || hw === 2).map((form) => {
        const g = new GraphBuilder();
        const xin = g.input('x', [batch, ci, hw, hw]);
        const y = emitConv3x3(g, xin, kernel, pass === 'forward' ? bias : null, pass === 'forward', { cin: ci, cout: co, hw, batch }, form, 'c');
        g.output(y, 'y', [batch, co, hw, hw]);
        return { form, session: new OrtSession(g.serialize('layer'), { threads, announce: false }), wall: [] as number[], cpu: [] as number[] };
      });
      try {
        const feeds = { x: { data: x, dims: [batch, ci, hw, hw] } };
        for (const r of runs) r.session.run(feeds);
        for (let i = 0; i < rounds; i++)
          for (const r of runs) {
            const c = process.cpuUsage();
            const t = process.hrtime.bigint();
            r.session.run(feeds);
            r.wall.push(Number(process.hrtime.bigint() - t) / 1e6);
            const d = process.cpuUsage(c);
            r.cpu.push((d.user + d.system) / 1e3);
          }
        const cells = runs.map((r) => `${r.form} ${Math.min(...r.wall).toFixed(2)} ms (cpu ${Math.min(...r.cpu).toFixed(2)})`);
        process.stdout.write(`layer ${pass.padEnd(8)} ${String(hw).padStart(2)}x${hw} ${String(ci).padStart(3)}->${String(co).padEnd(3)}  ${cells.join('  ')}\n`);
      } finally {
        for (const r of runs) r.session.dispose();
      }
    }
  }
}

interface Variant {
  workload: Workload;
  layout: Layout;
  bench: OrtBench;
  wall: number[];
  cpu: number[];
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string };
}

/** Per operator type and per node: microseconds per run, runs after the first (the warm-up). */
export function summarizeProfile(events: readonly ProfileEvent[]): { runs: number; byOp: [string, number][]; byNode: [string, number][] } {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const after = runs.length ? runs[0].ts + runs[0].dur : 0;
  const n = Math.max(1, runs.length - 1);
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < after) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / n);
    const node = e.name.slice(0, -'_kernel_time'.length);
    byNode.set(node, (byNode.get(node) ?? 0) + e.dur / n);
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { runs: n, byOp: sorted(byOp), byNode: sorted(byNode) };
}

async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('opulab-bench-ort-layout')
    .usage('$0 [options]: ONNX Runtime graphs, plain vs batch-as-rows convolution layout, alternating in one process')
    .option('width', { type: 'number', array: true, default: [1], describe: 'width multipliers' })
    .option('batch', { type: 'number', default: 64 })
    .option('threads', { type: 'number', default: 2, describe: 'ONNX Runtime intra-op threads' })
    .option('rounds', { type: 'number', default: 6, describe: 'timed runs per variant (after one warm-up)' })
    .option('workloads', { type: 'string', default: 'forward,input_grad' })
    .option('profile', { type: 'string', describe: "folder for ONNX Runtime's per-operator profiles (then summarized)" })
    .option('seed', { type: 'number', default: 0 })
    .option('layouts', { type: 'string', default: 'never,auto,wino-auto', describe: `whole-graph variants: ${Object.keys(LAYOUTS).join(', ')}` })
    .option('layers', { type: 'boolean', default: false, describe: 'per-layer A/B of the convolution forms (plain, rows, winograd) instead of whole graphs' })
    .strict()
    .help()
    .parseAsync();
  const workloads = args.workloads.split(',').map((w) => w.trim());
  for (const w of workloads) if (w !== 'forward' && w !== 'input_grad') throw new UserError(`bad --workloads '${args.workloads}': expected forward and/or input_grad`);
  if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new UserError(`bad --rounds ${args.rounds}: expected an integer >= 1`);
  if (!Number.isInteger(args.threads) || args.threads < 1) throw new UserError(`bad --threads ${args.threads}: expected an integer >= 1`);
  const layouts = args.layouts.split(',').map((l) => l.trim()) as Layout[];
  for (const l of layouts) if (!(l in LAYOUTS)) throw new UserError(`bad --layouts '${args.layouts}': expected some of ${Object.keys(LAYOUTS).join(', ')}`);
  if (args.profile) fs.mkdirSync(args.profile, { recursive: true });
  if (args.layers) {
    for (const width of args.width) layerAb(width, args.batch, args.threads, args.rounds, args.seed, ['plain', 'rows', 'winograd', 'dense']);
    process.stdout.write(`(load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')})\n`);
    return;
  }
  await initBackend('cpu', true);
  for (const width of args.width) {
    if (!(width > 0)) throw new UserError(`bad --width ${width}: expected positive numbers`);
    const model = new BenchModel(width, args.batch, args.seed);
    const variants: Variant[] = [];
    const prefix = (wl: string, layout: Layout): string | undefined => (args.profile ? path.join(args.profile, `ort-w${width}-${wl}-${layout}`) : undefined);
    try {
      for (const workload of workloads as Workload[]) {
        for (const layout of layouts) {
          const profilePrefix = prefix(workload, layout);
          variants.push({ workload, layout, bench: new OrtBench(model, args.threads, LAYOUTS[layout], profilePrefix ? { profilePrefix } : {}), wall: [], cpu: [] });
        }
      }
      const macs = benchForwardMacs(width);
      for (const v of variants) v.bench.run(v.workload); // warm-up
      for (let r = 0; r < args.rounds; r++) {
        for (const v of variants) {
          const c = process.cpuUsage();
          const t = process.hrtime.bigint();
          v.bench.run(v.workload);
          v.wall.push(Number(process.hrtime.bigint() - t) / 1e9);
          const d = process.cpuUsage(c);
          v.cpu.push((d.user + d.system) / 1e6);
        }
      }
      for (const v of variants) {
        const best = Math.min(...v.wall);
        const flops = 2 * macs * (v.workload === 'forward' ? 1 : 2) * args.batch;
        const rec = {
          impl: 'opulab-onnxruntime',
          workload: v.workload,
          width,
          batch: args.batch,
          threads: args.threads,
          row_layout: v.layout,
          img_per_s: Math.round((args.batch / best) * 10) / 10,
          median_img_per_s: Math.round((args.batch / median(v.wall)) * 10) / 10,
          cpu_s_per_batch: Math.round(Math.min(...v.cpu) * 1000) / 1000,
          gflop_s: Math.round((flops / best / 1e9) * 10) / 10,
        };
        process.stdout.write(`${JSON.stringify(rec)}\n`);
      }
      if (args.profile) {
        for (const v of variants) v.bench.endProfiling();
        for (const v of variants) {
          const p = prefix(v.workload, v.layout)!;
          const file = fs
            .readdirSync(args.profile)
            .filter((f) => path.join(args.profile!, f).startsWith(p + '_') && f.endsWith('.json'))
            .sort()
            .pop();
          if (!file) continue;
          const s = summarizeProfile(JSON.parse(fs.readFileSync(path.join(args.profile, file), 'utf8')) as ProfileEvent[]);
          const total = s.byOp.reduce((a, [, us]) => a + us, 0);
          process.stdout.write(`\nprofile ${v.workload} width ${width} layout ${v.layout} (${file}): ${(total / 1000).toFixed(1)} ms of operators per run\n`);
          for (const [op, us] of s.byOp) process.stdout.write(`  ${op.padEnd(22)} ${(us / 1000).toFixed(2).padStart(9)} ms  ${((100 * us) / total).toFixed(1).padStart(5)}%\n`);
          process.stdout.write('  slowest nodes:\n');
          for (const [node, us] of s.byNode.slice(0, 10)) process.stdout.write(`    ${node.padEnd(30)} ${(us / 1000).toFixed(2).padStart(9)} ms\n`);
        }
      }
    } finally {
      for (const v of variants) v.bench.dispose();
      model.dispose();
    }
  }
  process.stdout.write(`(load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')})\n`);
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: unknown) => {
    if (isUserError(err)) {
      process.stderr.write(`opulab-bench-ort-layout: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
