/**
 * Start a worker thread running src/parallel/worker.(js|ts).
 *
 * From compiled code (dist/) the sibling worker.js is used. When this module is itself TypeScript (jest via
 * ts-jest, which does not transform worker threads) the worker is started from a small eval'd bootstrap that
 * registers a `.ts` loader built on `typescript.transpileModule` (transpile only, no type check) and then requires
 * worker.ts, so tests always exercise the current sources (never a stale dist/).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { WorkerBoot } from './protocol';

function tsBootstrap(workerTs: string, typescriptPath: string): string {
  return `
const fs = require('fs');
const Module = require('module');
const ts = require(${JSON.stringify(typescriptPath)});
const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true, inlineSourceMap: true };
Module._extensions['.ts'] = function (mod, filename) {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions: options });
  mod._compile(out.outputText, filename);
};
require(${JSON.stringify(workerTs)});
`;
}

export function spawnWorker(boot: WorkerBoot): Worker {
  const compiled = path.join(__dirname, 'worker.js');
  if (__filename.endsWith('.js') && fs.existsSync(compiled)) return new Worker(compiled, { workerData: boot });
  const source = path.join(__dirname, 'worker.ts');
  if (!fs.existsSync(source)) throw new Error(`worker entry not found: neither ${compiled} nor ${source} exists`);
  const typescriptPath = require.resolve('typescript', { paths: [__dirname] });
  return new Worker(tsBootstrap(source, typescriptPath), { eval: true, workerData: boot });
}
