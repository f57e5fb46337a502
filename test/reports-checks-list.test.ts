/**
 * The list of checks: C1..C17 in report order, each with a distinct descriptive name, and docs/method.md §6 naming
 * every id with its title and its name in the code.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CHECKS } from '../reports/checks';

const method = fs.readFileSync(path.join(__dirname, '..', 'docs', 'method.md'), 'utf8').replace(/\s+/g, ' ');

test('CHECKS holds C1..C17 in order with distinct descriptive names', () => {
  expect(CHECKS.map((c) => c.id)).toEqual(Array.from({ length: 17 }, (_, i) => `C${i + 1}`));
  expect(new Set(CHECKS.map((c) => c.name)).size).toBe(17);
  for (const c of CHECKS) expect(c.name).toMatch(/^[a-z][A-Za-z]{5,}$/);
});

test('docs/method.md gives each check its title and its name in the code', () => {
  for (const c of CHECKS) {
    expect(method).toContain(`| ${c.id} | ${c.title} |`);
    expect(method).toContain(`${c.id} \`${c.name}\``);
  }
});
