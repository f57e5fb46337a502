/**
 * Start a worker thread running src/parallel/worker.(js|ts).
 *
 * From compiled code (dist/) the sibling worker.js is used. When this module is itself TypeScript (jest via
 * ts-jest, which does not transform worker threads) the worker is started from a small eval'd bootstrap that
 * registers a `.ts` loader built on `typescript.transpileModule` (transpile only, no type check) and then requires
 * worker.ts, so tests always exercise the current sources (never a stale dist/). Transpiled files are cached
 * under <tmpdir>/opulab-ts-cache keyed by a hash of the source, so only changed files are transpiled again.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { WorkerBoot } from './protocol';

function tsBootstrap(workerTs: string, typescriptPath: string): string {
  return `
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const Module = require('module');
const cacheDir = path.join(os.tmpdir(), 'opulab-ts-cache');
let ts = null;
Module._extensions['.ts'] = function (mod, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha1').update('v1\0' + filename + '\0' + source).digest('hex');
  const cached = path.join(cacheDir, key + '.js');
  let code = null;
  try { code = fs.readFileSync(cached, 'utf8'); } catch (e) { code = null; }
  if (code === null) {
    ts = ts || require(${JSON.stringify(typescriptPath)});
    const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true, inlineSourceMap: true };
    code = ts.transpileModule(source, { fileName: filename, compilerOptions: options }).outputText;
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = cached + '.' + process.pid + '-' + require('worker_threads').threadId + '.tmp';
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, cached);
    } catch (e) { /* cache is best effort */ }
  }
  mod._compile(code, filename);
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
