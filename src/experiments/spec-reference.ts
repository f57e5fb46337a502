/**
 * The README's spec field reference, generated from the spec schemas (src/experiments/spec.ts) so it cannot
 * drift from what `opulab run` accepts. `npm run docs:spec` rewrites the section between the markers;
 * test/spec-reference.test.ts fails when the README is out of date.
 */
import * as fs from 'fs';
import * as path from 'path';
import { specReference } from './spec';

export const BEGIN = '<!-- spec-reference:begin (generated from src/experiments/spec.ts by `npm run docs:spec`; do not edit) -->';
export const END = '<!-- spec-reference:end -->';

/** `readme` with its spec-reference section replaced by the generated one. */
export function withSpecReference(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README has no '${BEGIN}' ... '${END}' section`);
  return `${readme.slice(0, a + BEGIN.length)}\n${specReference()}\n${readme.slice(b)}`;
}

if (require.main === module) {
  const file = path.resolve(__dirname, '..', '..', '..', 'README.md');
  const before = fs.readFileSync(file, 'utf8');
  const after = withSpecReference(before);
  if (after !== before) fs.writeFileSync(file, after);
  process.stdout.write(`${file}: spec reference ${after === before ? 'already up to date' : 'updated'}\n`);
}
