/** The cores worker and thread counts default to (src/util/cores.ts). */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { availableCores } from '../src/util/cores';
import { threadsPerWorker } from '../src/engine';

const built = path.join(__dirname, '..', 'dist', 'src', 'util', 'cores.js');
const taskset = spawnSync('taskset', ['--version'], { encoding: 'utf8' }).status === 0;

describe('availableCores', () => {
  test('counts the CPUs of the affinity mask, at least 1 and at most the host CPUs', () => {
    expect(availableCores()).toBe(os.availableParallelism());
    expect(availableCores()).toBeGreaterThanOrEqual(1);
    expect(availableCores()).toBeLessThanOrEqual(os.cpus().length);
  });

  (taskset && fs.existsSync(built) ? test : test.skip)('a process pinned to one CPU (taskset, as Slurm CPU binding does) counts 1, and gets one ONNX Runtime thread', () => {
    const script = `const c = require(${JSON.stringify(built)}); const e = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'src', 'engine'))}); console.log(c.availableCores(), e.threadsPerWorker(1))`;
    const r = spawnSync('taskset', ['-c', '0', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('1 1');
  });

  test('threads per worker split the cores given (at least one each)', () => {
    expect(threadsPerWorker(2, 8)).toBe(4);
    expect(threadsPerWorker(3, 8)).toBe(2);
    expect(threadsPerWorker(16, 8)).toBe(1);
  });
});
