/**
 * A private single-node Slurm cluster for tests: its own munged (own key and socket), slurmctld and slurmd on
 * 127.0.0.1 with free ports, and its own state, spool and log directories under one temporary folder. Started
 * synchronously (so a test file can decide to run or skip at load time) and stopped by pid: the daemons, and
 * every process that carries this cluster's SLURM_CONF in its environment (job steps, job scripts and what they
 * started).
 */
import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const SLURM_BINARIES = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'sinfo'];

export interface SlurmCluster {
  dir: string;
  /** Environment for sbatch/squeue/scancel (and inherited by the jobs). */
  env: NodeJS.ProcessEnv;
  /** Daemon pids. */
  pids: number[];
  stop(): void;
  /** Run a client command; throws with its stderr on failure. */
  run(cmd: string, args: string[], cwd?: string): string;
}

export type StartResult = { ok: true; cluster: SlurmCluster } | { ok: false; reason: string };

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel by a throwaway child: this function is synchronous). */
function freePort(): number {
  const r = spawnSync(process.execPath, ['-e', "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  const port = Number(r.stdout.trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error(`could not get a free port: ${r.stderr}`);
  return port;
}

function tail(file: string, lines = 8): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose environment holds `marker` (NAME=value), excluding this process. */
function pidsWithEnv(marker: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${d}/environ`, 'latin1').split('\0');
      if (env.includes(marker)) out.push(Number(d));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

function killAll(pids: number[], graceMs: number): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end && pids.some(alive)) sleepMs(100);
  for (const p of pids.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Start the cluster in `dir` (created); on failure everything started is stopped and the reason returned. */
export function startSlurmCluster(dir: string, cpus = 2): StartResult {
  const missing = SLURM_BINARIES.filter((b) => !which(b));
  if (missing.length) return { ok: false, reason: `Slurm/munge not installed (missing ${missing.join(', ')}; apt-get install slurmctld slurmd slurm-client munge)` };
  for (const sub of ['munge', 'state', 'spool', 'log', 'run']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.chmodSync(path.join(dir, 'munge'), 0o711);
  const key = path.join(dir, 'munge', 'munge.key');
  fs.writeFileSync(key, crypto.randomBytes(1024), { mode: 0o400 });
  const socket = path.join(dir, 'munge', 'munge.sock');
  const conf = path.join(dir, 'slurm.conf');
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf };
  for (const k of Object.keys(env)) if (/^(SLURM_|SBATCH_|SQUEUE_)/.test(k) && k !== 'SLURM_CONF') delete env[k];
  const marker = `SLURM_CONF=${conf}`;
  const pids: number[] = [];
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    // jobs first (scancel, then by pid whatever still carries this cluster's environment), then the daemons
    spawnSync('scancel', ['--full', '--quiet', '--user', String(process.getuid?.() ?? 0)], { env, stdio: 'ignore', timeout: 10000 });
    sleepMs(300);
    killAll(pidsWithEnv(marker).filter((p) => !pids.includes(p)), 5000);
    killAll([...pids].reverse(), 5000);
    killAll(pidsWithEnv(marker), 2000); // slurmscriptd and any straggler
  };
  const daemon = (name: string, cmd: string, args: string[]): number => {
    const log = fs.openSync(path.join(dir, 'log', `${name}.out`), 'a');
    const child = spawn(cmd, args, { env, stdio: ['ignore', log, log], detached: true });
    child.unref();
    fs.closeSync(log);
    if (child.pid === undefined) throw new Error(`${cmd} did not start`);
    pids.push(child.pid);
    return child.pid;
  };
  const fail = (reason: string): StartResult => {
    stop();
    return { ok: false, reason };
  };
  const waitFor = (cond: () => boolean, ms: number): boolean => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (cond()) return true;
      sleepMs(200);
    }
    return false;
  };
  try {
    daemon('munged', 'munged', ['-F', '-f', `--socket=${socket}`, `--key-file=${key}`, `--pid-file=${path.join(dir, 'munge', 'munged.pid')}`, `--log-file=${path.join(dir, 'log', 'munged.log')}`, `--seed-file=${path.join(dir, 'munge', 'seed')}`]);
    if (!waitFor(() => fs.existsSync(socket), 10000)) return fail(`munged did not create its socket: ${tail(path.join(dir, 'log', 'munged.out'))}`);
    const [ctldPort, dPort] = [freePort(), freePort()];
    fs.writeFileSync(
      conf,
      [
        'ClusterName=opulabtest',
        'SlurmctldHost=localhost(127.0.0.1)',
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        `SlurmUser=${process.env.USER && process.env.USER !== 'root' ? process.env.USER : 'root'}`,
        'AuthType=auth/munge',
        `AuthInfo=socket=${socket}`,
        'CredType=cred/munge',
        `StateSaveLocation=${path.join(dir, 'state')}`,
        `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
        `SlurmctldPidFile=${path.join(dir, 'run', 'slurmctld.pid')}`,
        `SlurmdPidFile=${path.join(dir, 'run', 'slurmd.pid')}`,
        `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        'MpiDefault=none',
        'ReturnToService=2',
        'JobCompType=jobcomp/none',
        'AccountingStorageType=accounting_storage/none',
        'JobAcctGatherType=jobacct_gather/none',
        'SchedulerParameters=sched_interval=1',
        'MinJobAge=3600',
        'KillWait=5',
        'InactiveLimit=0',
        `NodeName=opulab1 NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=${cpus} State=UNKNOWN`,
        'PartitionName=opulab Nodes=opulab1 Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    daemon('slurmctld', 'slurmctld', ['-D', '-i', '-f', conf]);
    const ping = (): boolean => spawnSync('scontrol', ['ping'], { env, encoding: 'utf8', timeout: 5000 }).stdout?.includes('UP') ?? false;
    if (!waitFor(ping, 20000)) return fail(`slurmctld did not come up: ${tail(path.join(dir, 'log', 'slurmctld.log'))} ${tail(path.join(dir, 'log', 'slurmctld.out'))}`);
    daemon('slurmd', 'slurmd', ['-D', '-N', 'opulab1', '-f', conf]);
    const idle = (): boolean => /^idle/.test(spawnSync('sinfo', ['-h', '-N', '-o', '%t'], { env, encoding: 'utf8', timeout: 5000 }).stdout?.trim() ?? '');
    if (!waitFor(idle, 30000)) return fail(`slurmd did not register an idle node: ${tail(path.join(dir, 'log', 'slurmd.log'))} ${tail(path.join(dir, 'log', 'slurmd.out'))}`);
  } catch (e) {
    return fail(`could not start Slurm: ${(e as Error).message}`);
  }
  process.once('exit', stop);
  const run = (cmd: string, args: string[], cwd?: string): string => {
    const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  return { ok: true, cluster: { dir, env, pids, stop, run } };
}
