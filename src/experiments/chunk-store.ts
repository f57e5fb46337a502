/**
 * The finished chunks of an attack job that is not journaled yet, kept on disk so that a killed `opulab run`
 * resumes inside the job: `OUT/partial/<job key>/chunk-<k>.json`, one file per chunk, written atomically as the
 * chunk finishes. A chunk's result depends only on the job and k (src/parallel/evaluate-parallel.ts), so the job
 * assembled from saved and new chunks equals the uninterrupted one. The folder goes once the job is journaled.
 *
 * A file is used only when it names the same chunk and the same image indices; a file that cannot be read is
 * recomputed (it is this program's own cache, not user input) and the log says so.
 *
 * Wall time: each file records the job's seconds so far (`elapsedSec`: earlier processes up to their last saved
 * chunk, plus this one). The job's wall time continues from the largest of them, so it counts the work that made
 * the result and not the work of chunks that were killed before they finished (they are redone and counted then).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ChunkStore } from '../parallel/evaluate-parallel';
import type { EvaluationRun } from '../../attacks/evaluate';
import { writeFileAtomic } from '../util/atomic';

const FORMAT = 'opulab.chunk/1';

interface ChunkFile {
  format: typeof FORMAT;
  chunk: number;
  indices: number[];
  elapsedSec: number;
  runs: EvaluationRun[];
}

// JSON has no NaN or Infinity (a loss can be NaN); they are written as tagged strings and read back as numbers.
const NON_FINITE = '__number:';
const replacer = (_k: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? `${NON_FINITE}${v}` : v);
const reviver = (_k: string, v: unknown): unknown => (typeof v === 'string' && v.startsWith(NON_FINITE) ? Number(v.slice(NON_FINITE.length)) : v);

export function partialDir(outDir: string, jobKey: string): string {
  return path.join(outDir, 'partial', jobKey);
}

const CHUNK_FILE = /^chunk-(\d+)\.json$/;

/** The chunk numbers with a file in the job's folder (not read: `run --check` counts them; the store validates). */
export function savedChunkNumbers(outDir: string, jobKey: string): number[] {
  const dir = partialDir(outDir, jobKey);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).flatMap((name) => {
    const m = CHUNK_FILE.exec(name);
    return m ? [Number(m[1])] : [];
  });
}

export class DirChunkStore implements ChunkStore {
  /** The job's seconds before this process (0 for a fresh job). */
  readonly priorSeconds: number;
  private readonly opened = Date.now();
  private readonly dir: string;
  private readonly files = new Map<number, ChunkFile>();

  constructor(outDir: string, jobKey: string, private readonly log: (line: string) => void = () => undefined) {
    this.dir = partialDir(outDir, jobKey);
    let prior = 0;
    for (const k of savedChunkNumbers(outDir, jobKey)) {
      const file = this.read(path.join(this.dir, `chunk-${k}.json`), k);
      if (!file) continue;
      this.files.set(file.chunk, file);
      prior = Math.max(prior, file.elapsedSec);
    }
    this.priorSeconds = prior;
  }

  /** Chunks found on disk when the store was opened. */
  get savedChunks(): number {
    return this.files.size;
  }

  private read(file: string, chunk: number): ChunkFile | undefined {
    try {
      const f = JSON.parse(fs.readFileSync(file, 'utf8'), reviver) as ChunkFile;
      if (f.format !== FORMAT || f.chunk !== chunk || !Array.isArray(f.indices) || !Array.isArray(f.runs) || typeof f.elapsedSec !== 'number') {
        throw new Error(`not a ${FORMAT} file for chunk ${chunk}`);
      }
      return f;
    } catch (e) {
      this.log(`ignoring saved chunk ${file} (${(e as Error).message}); it is computed again`);
      return undefined;
    }
  }

  load(k: number, indices: readonly number[]): EvaluationRun[] | undefined {
    const f = this.files.get(k);
    if (!f) return undefined;
    if (f.indices.length !== indices.length || f.indices.some((v, i) => v !== indices[i])) {
      this.log(`ignoring saved chunk ${k} of ${this.dir}: it holds other images; it is computed again`);
      return undefined;
    }
    return f.runs;
  }

  save(k: number, indices: readonly number[], runs: EvaluationRun[]): void {
    const f: ChunkFile = { format: FORMAT, chunk: k, indices: [...indices], elapsedSec: this.elapsedSec(), runs };
    writeFileAtomic(path.join(this.dir, `chunk-${k}.json`), JSON.stringify(f, replacer));
  }

  /** The job's seconds so far: earlier processes plus this one. */
  elapsedSec(): number {
    return this.priorSeconds + (Date.now() - this.opened) / 1000;
  }

  /** Remove the saved chunks (after the job is journaled). */
  clear(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    const parent = path.dirname(this.dir);
    if (fs.existsSync(parent) && fs.readdirSync(parent).length === 0) fs.rmdirSync(parent);
  }
}
