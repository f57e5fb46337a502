/**
 * Runs that other commands appended to a run directory's results.json (`opulab attack --out DIR/results.json`,
 * `opulab transfer`) are not in its journal. `opulab run` rebuilds results.json from the journal, so before it does,
 * those runs (and the models they added) are folded into the journal as entries of their own: every later rebuild,
 * resume or merge keeps them. Nothing is dropped; a results.json that cannot be read stops the run instead.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../util/errors';
import { ModelRecord, RunRecord } from '../results/schema';
import { JournalEntry, appendJournal, contentHash, dedupe, readJournal } from './store';
import { runKey } from '../results/fingerprint';

/** Journal order of folded entries: after every job of the spec, in the order they were folded. */
const FOLDED_ORDER = 2 ** 52;

/** The runs and models of DIR/results.json that its journal does not hold, as journal entries (nothing written). */
export function appendedEntries(dir: string, journal: JournalEntry[] = readJournal(dir)): JournalEntry[] {
  const file = path.join(dir, 'results.json');
  if (!fs.existsSync(file)) return [];
  let data: { runs?: unknown; models?: unknown };
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof data;
  } catch (e) {
    throw new UserError(`${file} is not valid JSON (${(e as Error).message}): it may hold runs that are not in ${path.join(dir, 'journal.jsonl')}; repair it or move it away, then rerun`);
  }
  if (!Array.isArray(data.runs) || !Array.isArray(data.models)) {
    throw new UserError(`${file} has no runs/models lists (not written by opulab?): move it away, then rerun`);
  }
  const entries = dedupe(journal);
  const known = new Set<string>();
  const modelIds = new Set<string>();
  let folded = 0;
  for (const e of entries) {
    if (e.kind === 'model') modelIds.add(String(e.record.id));
    else e.records.forEach((r) => known.add(runKey(r)));
    if (e.order >= FOLDED_ORDER) folded++;
  }
  const out: JournalEntry[] = [];
  const models = (data.models as ModelRecord[]).filter((m) => !modelIds.has(String(m.id)));
  for (const record of models) out.push({ kind: 'model', key: `appended-${contentHash(record)}`, order: FOLDED_ORDER + folded++, record });
  const runs = (data.runs as RunRecord[]).filter((r) => !known.has(runKey(r)));
  if (runs.length) out.push({ kind: 'runs', key: `appended-${contentHash(runs)}`, order: FOLDED_ORDER + folded++, records: runs });
  return out;
}

/** Fold the appended runs of DIR/results.json into its journal; returns how many runs and models were kept. */
export function foldAppendedRuns(dir: string): { runs: number; models: number } {
  const entries = appendedEntries(dir);
  for (const e of entries) appendJournal(dir, e);
  return {
    runs: entries.reduce((n, e) => n + (e.kind === 'runs' ? e.records.length : 0), 0),
    models: entries.filter((e) => e.kind === 'model').length,
  };
}
