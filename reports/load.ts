/** Reading results.json and the per-sample JSONL files it references, with one-line UserErrors. */
import * as fs from 'fs';
import * as zlib from 'zlib';
import * as path from 'path';
import { READABLE_RESULTS_SCHEMAS, RESULTS_SCHEMA, type PerSampleRecord, type ResultsFile, type RunRecord } from '../src/results/schema';
import { UserError } from '../src/util/errors';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function need(cond: boolean, where: string, what: string, got: unknown): void {
  if (!cond) {
    const shown = JSON.stringify(got);
    throw new UserError(`${where}: expected ${what}, got ${shown === undefined ? 'nothing' : shown.slice(0, 60)}`);
  }
}

/**
 * Structural validation of a parsed results file: the fields the report and the checks rely on.
 * `source` names the file in error messages.
 */
export function validateResults(data: unknown, source: string): ResultsFile {
  need(isRecord(data), source, 'a JSON object', typeof data);
  const d = data as Record<string, unknown>;
  need(READABLE_RESULTS_SCHEMAS.includes(d.schema as string), `${source} schema`, READABLE_RESULTS_SCHEMAS.map((x) => `"${x}"`).join(' or '), d.schema);
  d.schema = RESULTS_SCHEMA; // older versions are a subset of the current one
  need(isRecord(d.environment), `${source} environment`, 'an object', d.environment);
  need(Array.isArray(d.models), `${source} models`, 'an array', d.models);
  need(Array.isArray(d.runs), `${source} runs`, 'an array', d.runs);
  (d.models as unknown[]).forEach((m, i) => {
    need(isRecord(m) && typeof m.id === 'string', `${source} models[${i}].id`, 'a string', isRecord(m) ? m.id : m);
  });
  (d.runs as unknown[]).forEach((r, i) => {
    const w = `${source} runs[${i}]`;
    need(isRecord(r), w, 'an object', r);
    const run = r as Record<string, unknown>;
    need(typeof run.model === 'string', `${w}.model`, 'a model id string', run.model);
    need(typeof run.attack === 'string', `${w}.attack`, 'an attack name string', run.attack);
    need(run.method === undefined || typeof run.method === 'string', `${w}.method`, 'the registered attack name (a string)', run.method);
    need(typeof run.threat === 'string', `${w}.threat`, 'white-box|black-box-score|decision|transfer|noise', run.threat);
    need(typeof run.eps === 'number' && Number.isFinite(run.eps), `${w}.eps`, 'a number (pixel units)', run.eps);
    need(typeof run.robustAccuracy === 'number', `${w}.robustAccuracy`, 'a number in [0,1]', run.robustAccuracy);
    need(run.params === undefined || isRecord(run.params), `${w}.params`, 'an object', run.params);
    if (run.params === undefined) run.params = {};
    const facts = run.facts as Record<string, unknown> | undefined;
    need(facts === undefined || (isRecord(facts) && typeof facts.iterative === 'boolean' && typeof facts.marginLoss === 'boolean'), `${w}.facts`, 'the attack facts object opulab records (iterative, marginLoss, ...)', run.facts);
    if (run.norm === undefined) run.norm = 'linf';
  });
  need(d.checks === undefined || Array.isArray(d.checks), `${source} checks`, 'an array', d.checks);
  if (d.checks === undefined) d.checks = [];
  need(d.extras === undefined || isRecord(d.extras), `${source} extras`, 'an object', d.extras);
  return d as unknown as ResultsFile;
}

/** Read and validate results.json; UserError when missing, unreadable, not JSON or the wrong schema. */
export function loadResultsFile(file: string): ResultsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`results file ${file}: ${code === 'ENOENT' ? 'not found' : `cannot be read (${code})`}; expected a results.json written by opulab`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`results file ${file} is not valid JSON (${(e as Error).message}); expected a results.json written by opulab`);
  }
  return validateResults(data, `results file ${file}`);
}

function isPerSample(v: unknown): v is PerSampleRecord {
  return (
    isRecord(v) &&
    typeof v.index === 'number' &&
    typeof v.label === 'number' &&
    typeof v.cleanPrediction === 'number' &&
    typeof v.success === 'boolean'
  );
}

/** Parse JSONL per-sample records. A torn final line (a killed writer) is ignored; other bad lines throw. */
export function parsePerSample(text: string, source: string): PerSampleRecord[] {
  const lines = text.split('\n');
  const out: PerSampleRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) return; // torn last line without newline
      throw new UserError(`${source} line ${i + 1} is not JSON; expected one per-sample record per line`);
    }
    if (!isPerSample(v)) {
      throw new UserError(`${source} line ${i + 1}: expected {index, label, cleanPrediction, success}, got ${line.slice(0, 60)}`);
    }
    out.push(v);
  });
  return out;
}

/**
 * A loader for the per-sample files of runs in `resultsFile` (paths relative to its folder), read as written or
 * from `FILE.gz` beside it. Missing files yield null (the report says so); each file is read once.
 */
export function perSampleLoaderFor(resultsFile: string): (run: RunRecord) => PerSampleRecord[] | null {
  const dir = path.dirname(path.resolve(resultsFile));
  const cache = new Map<string, PerSampleRecord[] | null>();
  return (run) => {
    if (!run.perSample) return null;
    const file = path.resolve(dir, run.perSample);
    if (!cache.has(file)) {
      // the file as written, or gzip-compressed beside it (`runs/KEY-0.jsonl.gz`, as a published results folder keeps them)
      let text: string | null = null;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        try {
          text = zlib.gunzipSync(fs.readFileSync(`${file}.gz`)).toString('utf8');
        } catch {
          text = null;
        }
      }
      cache.set(file, text === null ? null : parsePerSample(text, `per-sample file ${file}`));
    }
    return cache.get(file) ?? null;
  };
}
