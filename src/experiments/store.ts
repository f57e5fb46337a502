/**
 * The results store of an experiment directory. Every finished job appends ONE line to `journal.jsonl`
 * (written and fsynced in one call), keyed by the job's content hash; results.json is re-assembled from the
 * journal and replaced atomically. A killed run therefore never loses or duplicates a finished job, and a rerun
 * skips every key already in the journal. Shards write separate directories; `merge` unions their journals.
 */
import * as fs from 'fs';
import * as path from 'path';
import { appendLineDurable } from '../util/atomic';
import { UserError } from '../util/errors';
import { ModelRecord, ResultsExtras, RunRecord } from '../results/schema';

export interface ModelEntry {
  kind: 'model';
  key: string;
  order: number;
  record: ModelRecord;
}

export interface RunsEntry {
  kind: 'runs';
  key: string;
  order: number;
  records: RunRecord[];
  /** Extra report material produced by the job (example images, probe data...). */
  extras?: ResultsExtras;
}

export type JournalEntry = ModelEntry | RunsEntry;

export const JOURNAL = 'journal.jsonl';

export { contentHash, stableStringify } from '../util/stable-json';

/**
 * Read a journal. A torn final line (a process killed mid-write on a filesystem without atomic appends) is
 * ignored; any other corrupt line is an error naming the file and line.
 */
export function readJournal(dir: string): JournalEntry[] {
  const file = path.join(dir, JOURNAL);
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: JournalEntry[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch {
      if (i >= lines.length - 2) return; // torn tail
      throw new UserError(`${file}:${i + 1}: corrupt journal line (expected one JSON object per line)`);
    }
  });
  return out;
}

export function appendJournal(dir: string, entry: JournalEntry): void {
  appendLineDurable(path.join(dir, JOURNAL), JSON.stringify(entry));
}

/** Entries by key, first occurrence wins (a key is only ever written for identical work). */
export function dedupe(entries: JournalEntry[]): JournalEntry[] {
  const seen = new Set<string>();
  const out: JournalEntry[] = [];
  for (const e of entries) {
    const k = `${e.kind}:${e.key}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out.sort((a, b) => a.order - b.order || a.key.localeCompare(b.key));
}
