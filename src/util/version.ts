/** The package version, found by walking up from this file (works from src/ under ts-jest and from dist/). */
import * as fs from 'fs';
import * as path from 'path';

let cached: string | null = null;

export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, 'package.json');
    if (fs.existsSync(p)) {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string };
      if (pkg.name === 'opulab') return dir;
    }
    dir = path.dirname(dir);
  }
  throw new Error('cannot find opulab package.json');
}

export function opulabVersion(): string {
  if (cached === null) {
    cached = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  }
  return cached;
}
