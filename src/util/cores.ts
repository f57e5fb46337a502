/**
 * The cores this process may run on: `os.availableParallelism()`, which counts the CPUs of the process's affinity
 * mask (what Slurm's CPU binding, `taskset` or a cpuset cgroup leave it), not every CPU of the host as
 * `os.cpus().length` does. Worker counts and ONNX Runtime thread counts default to it, so a job given 2 CPUs of a
 * 64-core node starts 2 threads, not 64.
 */
import * as os from 'os';

export function availableCores(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n);
}
