/**
 * The layer rule (docs/architecture.md §1), enforced: every import in src/, attacks/, defenses/, datasets/ and
 * reports/ (static, `export ... from`, `import type`, `require`, dynamic `import()`; type-only imports count too)
 * must point to a module of the same layer or of a layer below, and no module may reach itself through imports.
 * Offending edges are printed one per line.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const SCANNED = ['src', 'attacks', 'defenses', 'datasets', 'reports'];

/**
 * Bottom to top. A module belongs to the layer with the longest matching path prefix (a folder ends in '/', a
 * file is named without '.ts'). The table in docs/architecture.md §1 lists the same layers and paths (checked below).
 */
const LAYERS: ReadonlyArray<{ name: string; members: readonly string[] }> = [
  { name: 'foundations', members: ['src/util/', 'src/types', 'attacks/params'] },
  { name: 'compute', members: ['src/backend/'] },
  { name: 'data', members: ['datasets/'] },
  { name: 'results', members: ['src/results/'] },
  { name: 'optics', members: ['src/optics/'] },
  { name: 'model vocabulary', members: ['src/models/vocabulary', 'src/models/head', 'src/plugins/file', 'src/plugins/list', 'src/plugins/params', 'src/plugins/types'] },
  { name: 'defenses', members: ['defenses/'] },
  { name: 'models', members: ['src/models/', 'src/plugins/defense'] },
  { name: 'engine', members: ['src/engine/'] },
  { name: 'attacks', members: ['attacks/', 'src/plugins/attack', 'src/plugins/index'] },
  { name: 'reports', members: ['reports/'] },
  { name: 'training', members: ['src/training/'] },
  { name: 'imported models', members: ['src/import/'] },
  { name: 'parallel', members: ['src/parallel/', 'src/bench/workloads'] },
  { name: 'training loop', members: ['src/training/trainer'] },
  { name: 'probe', members: ['src/probe/'] },
  { name: 'experiments', members: ['src/experiments/'] },
  { name: 'bench', members: ['src/bench/'] },
  { name: 'interface', members: ['src/cli/', 'src/index'] },
];

interface ImportGraph {
  modules: string[];
  /** [from, to] module ids (paths from the repository root, without '.ts'). */
  edges: Array<[string, string]>;
  unresolved: string[];
}

function listTs(dir: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listTs(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
}

const moduleId = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/').replace(/\.ts$/, '');

function readImportGraph(): ImportGraph {
  const files: string[] = [];
  for (const d of SCANNED) listTs(path.join(ROOT, d), files);
  const edges: Array<[string, string]> = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue; // a package
      const base = path.resolve(path.dirname(file), fileName);
      const hit = [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
      if (!hit) unresolved.push(`${moduleId(file)} -> ${fileName}`);
      else if (hit.endsWith('.ts')) edges.push([moduleId(file), moduleId(hit)]);
      else if (!hit.startsWith(ROOT + path.sep)) unresolved.push(`${moduleId(file)} -> ${fileName} (outside the repository)`);
    }
  }
  return { modules: files.map(moduleId).sort(), edges, unresolved };
}

function layerOf(id: string, layers = LAYERS): number {
  let best = -1;
  let bestLen = -1;
  layers.forEach((l, i) => {
    for (const m of l.members) {
      const matches = m.endsWith('/') ? id.startsWith(m) : id === m;
      if (matches && m.length > bestLen) {
        best = i;
        bestLen = m.length;
      }
    }
  });
  return best;
}

/** Import cycles: the strongly connected components with more than one module (or a module importing itself). */
function findCycles(modules: readonly string[], edges: ReadonlyArray<readonly [string, string]>): string[][] {
  const next = new Map<string, string[]>(modules.map((m) => [m, []]));
  for (const [a, b] of edges) next.get(a)?.push(b);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const m of modules) if (!index.has(m)) visit(m);
  return out;
}

/** The edges inside each cycle, `a -> b`. */
function cycleEdges(cycle: readonly string[], edges: ReadonlyArray<readonly [string, string]>): string[] {
  const inside = new Set(cycle);
  return [...new Set(edges.filter(([a, b]) => inside.has(a) && inside.has(b)).map(([a, b]) => `${a} -> ${b}`))];
}

function upwardEdges(edges: ReadonlyArray<readonly [string, string]>, layers = LAYERS): string[] {
  const out = new Set<string>();
  for (const [a, b] of edges) {
    const la = layerOf(a, layers);
    const lb = layerOf(b, layers);
    // a module in no layer is reported by its own test
    if (la >= 0 && lb > la) out.add(`${a} (${layers[la].name}) -> ${b} (${layers[lb].name})`);
  }
  return [...out];
}

/** The layer table of docs/architecture.md §1: each row's name and the paths in its "folders and files" column. */
function documentedLayers(): Array<{ name: string; members: string[] }> {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| (\d+) \| ([^|]+) \| ([^|]+) \|/gm)];
  return rows.map((r) => ({ name: r[2].trim(), members: [...r[3].matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\.ts$/, '')) }));
}

describe('layer rule', () => {
  const graph = readImportGraph();

  it('is the table of docs/architecture.md §1, layer for layer', () => {
    expect(documentedLayers()).toEqual(LAYERS.map((l) => ({ name: l.name, members: [...l.members] })));
  });

  it('checks what it claims to check (a planted cycle and a planted upward import are found)', () => {
    const planted: Array<[string, string]> = [
      ['src/util/a', 'src/util/b'],
      ['src/util/b', 'src/util/a'],
      ['src/util/b', 'src/cli/main'],
    ];
    expect(findCycles(['src/util/a', 'src/util/b', 'src/cli/main'], planted)).toEqual([['src/util/a', 'src/util/b']]);
    expect(upwardEdges(planted)).toEqual(['src/util/b (foundations) -> src/cli/main (interface)']);
    expect(layerOf('src/models/network')).toBe(LAYERS.findIndex((l) => l.name === 'models'));
    expect(layerOf('src/models/head')).toBe(LAYERS.findIndex((l) => l.name === 'model vocabulary'));
    // the scan sees the imports it must see, type-only ones included
    expect(graph.edges).toContainEqual(['src/cli/main', 'src/cli/strict']);
    expect(graph.edges).toContainEqual(['defenses/types', 'src/models/head']);
  });

  it('every module belongs to a layer and every relative import resolves', () => {
    const homeless = graph.modules.filter((m) => layerOf(m) < 0);
    if (homeless.length) console.log(`modules in no layer:\n  ${homeless.join('\n  ')}`);
    if (graph.unresolved.length) console.log(`imports that resolve to no module:\n  ${graph.unresolved.join('\n  ')}`);
    expect(homeless).toEqual([]);
    expect(graph.unresolved).toEqual([]);
  });

  it('no import cycles and no upward imports', () => {
    const cycles = findCycles(graph.modules, graph.edges);
    const upward = upwardEdges(graph.edges);
    const lines = [
      `layer rule: ${graph.modules.length} modules, ${new Set(graph.edges.map(([a, b]) => `${a} ${b}`)).size} import edges, ${LAYERS.length} layers, ${cycles.length} cycles, ${upward.length} upward imports`,
      ...cycles.map((c, i) => `cycle ${i + 1} (${c.length} modules):\n  ${cycleEdges(c, graph.edges).join('\n  ')}`),
      ...(upward.length ? [`upward imports:\n  ${upward.join('\n  ')}`] : []),
    ];
    console.log(lines.join('\n'));
    expect(cycles).toEqual([]);
    expect(upward).toEqual([]);
  });
});
