/**
 * The attack parameter docs, generated from each attack's schema (attacks/params.ts) so they cannot drift from
 * what the attacks accept: the README's attack parameter table (`npm run docs:attacks` rewrites the section
 * between the markers; test/attacks-params.test.ts fails when it is stale), the listing of `opulab list --params`
 * and the summary at the end of `opulab attack --help`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { AttackDefinition } from './definition';
import type { ParamTable } from './params';
import { BUILTIN_ATTACKS } from './registry';
import { BLACKBOX_PRESETS } from './blackbox';

export const BEGIN = '<!-- attack-params:begin (generated from the attack schemas by `npm run docs:attacks`; do not edit) -->';
export const END = '<!-- attack-params:end -->';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** "white-box, linf or l2" from the attack's facts at its defaults. */
function threatLine(d: AttackDefinition): string {
  const f = d.facts({});
  return `${f.threat}, ${f.norms.join(' or ')}`;
}

function markdownTable(t: ParamTable): string {
  const rows = t.rows();
  if (rows.length === 0) return '_no parameters_';
  return [
    '| parameter | type | default | range | description |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| \`${r.name}\` | ${r.type} | ${r.default === '-' ? '-' : `\`${cell(r.default)}\``} | ${cell(r.range)} | ${cell(r.description)} |`),
  ].join('\n');
}

/** The README section: one table per built-in attack, then the black-box presets. */
export function attackParamReference(): string {
  const parts: string[] = [];
  for (const d of BUILTIN_ATTACKS) {
    parts.push(`**\`${d.name}\`**: ${d.description} (${threatLine(d)})`, '', markdownTable(d.params), '');
  }
  parts.push('**Presets** (a preset is its attack with these parameters; parameters you give override them)', '');
  parts.push('| preset | attack | parameters |', '|---|---|---|');
  for (const [name, p] of Object.entries(BLACKBOX_PRESETS)) parts.push(`| \`${name}\` | \`${p.attack}\` | \`${cell(JSON.stringify(p.params))}\` |`);
  return parts.join('\n');
}

/** `readme` with its attack-parameter section replaced by the generated one. */
export function withAttackParamReference(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README has no '${BEGIN}' ... '${END}' section`);
  return `${readme.slice(0, a + BEGIN.length)}\n${attackParamReference()}\n${readme.slice(b)}`;
}

/** Plain-text parameter rows of one attack, indented (for `opulab list --params`). */
export function paramListing(t: ParamTable, indent = '    '): string[] {
  const rows = t.rows();
  if (rows.length === 0) return [`${indent}(no parameters)`];
  const w = (k: 'name' | 'type' | 'default' | 'range') => Math.max(...rows.map((r) => r[k].length));
  const [wn, wt, wd, wr] = [w('name'), w('type'), w('default'), w('range')];
  return rows.map((r) => `${indent}${r.name.padEnd(wn)}  ${r.type.padEnd(wt)}  ${r.default.padEnd(wd)}  ${r.range.padEnd(wr)}  ${r.description}`);
}

/** One line per built-in attack: its parameters with their defaults (the end of `opulab attack --help`). */
export function attackParamSummary(): string {
  const lines = BUILTIN_ATTACKS.map((d) => {
    const rows = d.params.rows();
    return `  ${d.name}: ${rows.length ? rows.map((r) => (r.default === '-' ? r.name : `${r.name}=${r.default.replace(/ /g, '')}`)).join(', ') : '(none)'}`;
  });
  return ['Attack parameters (give them with --params JSON or in a spec; `opulab list --params` for types, ranges and meanings):', ...lines].join('\n');
}

if (require.main === module) {
  const file = path.resolve(__dirname, '..', '..', 'README.md');
  const before = fs.readFileSync(file, 'utf8');
  const after = withAttackParamReference(before);
  if (after !== before) fs.writeFileSync(file, after);
  process.stdout.write(`${file}: attack parameter reference ${after === before ? 'already up to date' : 'updated'}\n`);
}
