#!/usr/bin/env node
/**
 * `npm run bench:compare -- --width 0.25 --batch 64 --workers 2`: run opulab's bench (dist/src/bench/bench.js)
 * and, when `/usr/bin/python3 -c 'import torch'` works, the PyTorch peer (../shared/bench/torch_peer.py from the
 * repository root, or --peer PATH) with the same widths, batch, workloads and repeats, one after the other (never
 * concurrently: they share the cores). Prints a table: workload, width, opulab img/s, pytorch img/s, ratio.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isUserError, UserError } from '../util/errors';
import { gflops, type BenchRecord } from './workloads';

export const PYTHON = '/usr/bin/python3';

/** The repository root: the nearest parent folder whose package.json is opulab's. */
export function repoRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'opulab') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new UserError(`cannot find opulab's package.json above ${from}`);
    dir = up;
  }
}

/** Bench records from a program's stdout (one JSON object per line; other lines ignored). */
export function parseBenchLines(stdout: string): BenchRecord[] {
  const out: BenchRecord[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    const r = JSON.parse(t) as BenchRecord;
    if (typeof r.workload === 'string' && typeof r.img_per_s === 'number') out.push(r);
  }
  return out;
}

export interface RatioRow {
  impl: string;
  workload: string;
  width: number;
  opulab: number;
  pytorch: number | null;
  /** opulab img/s divided by pytorch img/s. */
  ratio: number | null;
}

export function ratioRows(opulab: readonly BenchRecord[], torch: readonly BenchRecord[]): RatioRow[] {
  return opulab.map((o) => {
    const t = torch.find((r) => r.workload === o.workload && Math.abs(r.width - o.width) < 1e-9);
    return { impl: o.impl, workload: o.workload, width: o.width, opulab: o.img_per_s, pytorch: t ? t.img_per_s : null, ratio: t ? o.img_per_s / t.img_per_s : null };
  });
}

export function formatRatioTable(rows: readonly RatioRow[]): string {
  const header = ['impl', 'workload', 'width', 'opulab img/s', 'GFLOP/s', 'pytorch img/s', 'ratio'];
  const body = rows.map((r) => {
    const gf = gflops(r.workload, r.width, r.opulab);
    return [
      r.impl,
      r.workload,
      String(r.width),
      r.opulab.toFixed(1),
      gf === undefined ? '-' : gf.toFixed(1),
      r.pytorch === null ? '-' : r.pytorch.toFixed(1),
      r.ratio === null ? '-' : r.ratio.toFixed(3),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function run(cmd: string, args: string[], what: string): string {
  process.stderr.write(`bench:compare: ${what}: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (r.error) throw new UserError(`${what} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new UserError(`${what} failed with exit code ${r.status}`);
  return r.stdout;
}

function torchAvailable(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('opulab-bench-compare')
    .usage('$0 [options]: opulab bench vs the PyTorch CPU peer, as a ratio table')
    .option('width', { type: 'number', array: true, default: [0.25], describe: 'width multipliers' })
    .option('batch', { type: 'number', default: 64 })
    .option('workloads', { type: 'string', default: 'forward,train,input_grad' })
    .option('backend', { type: 'string', default: 'wasm' })
    .option('repeats', { type: 'number', default: 3 })
    .option('workers', { type: 'number', default: 1, describe: 'opulab worker threads' })
    .option('torch-threads', { type: 'number', describe: 'PyTorch threads (default: --workers, the same number of cores)' })
    .option('peer', { type: 'string', describe: 'path of torch_peer.py (default: ../shared/bench/torch_peer.py from the repo root)' })
    .option('json', { type: 'boolean', default: false, describe: 'also print the raw records as JSON lines' })
    .option('onnxruntime', { type: 'boolean', default: true, describe: 'also run the ONNX Runtime engine rows (forward, input_grad; threads = --workers)' })
    .option('attacks', { type: 'string', default: 'square,pgd', describe: "attack throughput rows on both engines ('' = none): square queries/s, pgd image-steps/s" })
    .option('attack-width', { type: 'number', default: 0.25, describe: 'width of the attack-throughput model' })
    .option('attack-checkpoint', { type: 'string', describe: 'time the attacks on this trained checkpoint (its own width) instead of a seeded VGG-16 of --attack-width' })
    .strict()
    .help()
    .parseAsync();
  const benchJs = path.join(__dirname, 'bench.js');
  if (!fs.existsSync(benchJs)) throw new UserError(`opulab bench not found at ${benchJs}: run 'npm run build' first`);
  const common = ['--width', ...args.width.map(String), '--batch', String(args.batch), '--repeats', String(args.repeats)];
  const opulab = parseBenchLines(
    run(process.execPath, [benchJs, ...common, '--workloads', args.workloads, '--backend', args.backend, '--workers', String(args.workers)], 'opulab bench'),
  );
  if (args.onnxruntime) {
    const ortWorkloads = args.workloads.split(',').filter((w) => w === 'forward' || w === 'input_grad').join(',');
    if (ortWorkloads) {
      opulab.push(
        ...parseBenchLines(run(process.execPath, [benchJs, ...common, '--workloads', ortWorkloads, '--engine', 'onnxruntime', '--workers', String(args.workers)], 'opulab bench (onnxruntime)')),
      );
    }
  }
  const attackRows: BenchRecord[] = [];
  if (args.attacks) {
    const attackCommon = ['--width', String(args['attack-width']), '--batch', String(args.batch), '--workloads', 'forward', '--repeats', '1', '--attacks', args.attacks, '--workers', String(args.workers), ...(args['attack-checkpoint'] ? ['--attack-checkpoint', args['attack-checkpoint']] : [])];
    for (const engine of args.onnxruntime ? ['tfjs', 'onnxruntime'] : ['tfjs']) {
      const recs = parseBenchLines(run(process.execPath, [benchJs, ...attackCommon, '--backend', args.backend, '--engine', engine], `attack throughput (${engine})`));
      attackRows.push(...recs.filter((r) => r.workload === 'square' || r.workload === 'pgd'));
    }
  }
  let torch: BenchRecord[] = [];
  const peer = args.peer ?? path.resolve(repoRoot(), '..', 'shared', 'bench', 'torch_peer.py');
  if (!torchAvailable()) {
    process.stderr.write(`bench:compare: ${PYTHON} cannot import torch; PyTorch column left empty\n`);
  } else if (!fs.existsSync(peer)) {
    throw new UserError(`PyTorch peer not found at '${peer}': pass --peer PATH`);
  } else {
    const threads = args['torch-threads'] ?? args.workers;
    torch = parseBenchLines(run(PYTHON, [peer, ...common, '--threads', String(threads)], 'pytorch peer'));
  }
  if (args.json) for (const r of [...opulab, ...attackRows, ...torch]) process.stdout.write(`${JSON.stringify(r)}\n`);
  for (const r of attackRows) {
    const other = attackRows.find((o) => o.workload === r.workload && o.impl !== r.impl && o.impl.startsWith('opulab-') && !o.impl.endsWith('onnxruntime'));
    const unit = r.workload === 'square' ? 'queries/s' : 'image-steps/s';
    const ratio = r.impl.endsWith('onnxruntime') && other ? ` (${(r.img_per_s / other.img_per_s).toFixed(2)}x ${other.impl})` : '';
    // a query is one forward pass, a PGD image-step one forward + input backward (the backbone's multiply-adds)
    const gf = gflops(r.workload === 'square' ? 'forward' : 'input_grad', r.width, r.img_per_s);
    process.stdout.write(`${r.impl} ${r.workload} width ${r.width}: ${r.img_per_s.toFixed(1)} ${unit}, ${gf!.toFixed(1)} GFLOP/s of the VGG-16 backbone${ratio}\n`);
  }
  const load = (await import('os')).loadavg().map((v) => v.toFixed(2)).join(' ');
  process.stdout.write(`${formatRatioTable(ratioRows(opulab, torch))}\n(opulab threads ${args.workers}, load average ${load})\n`);
}

if (require.main === module) {
  main(hideBin(process.argv)).catch((err: unknown) => {
    if (isUserError(err)) {
      process.stderr.write(`opulab-bench-compare: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
