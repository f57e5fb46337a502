/** `opulab merge`: the union of several run directories (shards) as one. */
import * as fs from 'fs';
import * as path from 'path';
import type { EnvironmentInfo, ResultsFile } from '../results/schema';
import { writeFileAtomic } from '../util/atomic';
import { UserError } from '../util/errors';
import { readJournal, dedupe, JournalEntry } from './store';
import { appendedEntries } from './fold';
import { assembleResults } from './assemble';

/** Union the journals of several run directories (shards) into `outDir`, copying per-sample files. */
export function mergeRuns(dirs: string[], outDir: string): ResultsFile {
  if (dirs.length === 0) throw new UserError('merge: give at least one results directory');
  const entries: JournalEntry[] = [];
  let environment: EnvironmentInfo | null = null;
  for (const d of dirs) {
    if (!fs.existsSync(path.join(d, 'journal.jsonl'))) throw new UserError(`merge: '${d}' has no journal.jsonl (expected a directory written by opulab run)`);
    const journal = readJournal(d);
    entries.push(...journal, ...appendedEntries(d, journal));
    const rf = path.join(d, 'results.json');
    if (!environment && fs.existsSync(rf)) environment = (JSON.parse(fs.readFileSync(rf, 'utf8')) as ResultsFile).environment;
    const runsDir = path.join(d, 'runs');
    if (fs.existsSync(runsDir) && path.resolve(d) !== path.resolve(outDir)) {
      fs.mkdirSync(path.join(outDir, 'runs'), { recursive: true });
      for (const f of fs.readdirSync(runsDir)) fs.copyFileSync(path.join(runsDir, f), path.join(outDir, 'runs', f));
    }
  }
  const merged = dedupe(entries);
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path.join(outDir, 'journal.jsonl'), merged.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const env = { ...(environment ?? { backend: 'unknown', workers: 1, opulab: 'unknown', node: process.version, seed: 0 }), shard: `merged from ${dirs.length}` };
  return assembleResults(outDir, env, merged);
}
