/** The on-disk store of an attack job's finished chunks (src/experiments/chunk-store.ts). */
import * as fs from 'fs';
import * as path from 'path';
import { DirChunkStore, partialDir } from '../src/experiments/chunk-store';
import type { EvaluationRun } from '../attacks/evaluate';
import { tempDir } from './helpers/tmp';

const tmp = tempDir('opulab-chunks-');

function runs(loss: number): EvaluationRun[] {
  return [
    {
      run: { model: 'm', attack: 'pgd', threat: 'white-box', norm: 'linf', eps: 0.03, epsSpace: 'pixel', params: { seed: 1 }, n: 2, cleanAccuracy: 1, robustAccuracy: 0.5, wallTimeSec: 2 },
      perSample: [
        { index: 4, label: 1, cleanPrediction: 1, adversarialPrediction: 1, success: false, eps: 0.03, loss },
        { index: 9, label: 2, cleanPrediction: 2, adversarialPrediction: 0, success: true, eps: 0.03, loss: -Infinity },
      ],
    },
  ];
}

describe('DirChunkStore', () => {
  test('saved chunks read back exactly, NaN and infinities included, by a store opened later', () => {
    const out = path.join(tmp, 'a');
    const s = new DirChunkStore(out, 'key1');
    expect(s.savedChunks).toBe(0);
    expect(s.priorSeconds).toBe(0);
    s.save(0, [4, 9], runs(NaN));
    s.save(2, [5], runs(0.125));
    const t = new DirChunkStore(out, 'key1');
    expect(t.savedChunks).toBe(2);
    expect(t.load(0, [4, 9])).toEqual(runs(NaN));
    expect(Number.isNaN(t.load(0, [4, 9])![0].perSample[0].loss)).toBe(true);
    expect(t.load(0, [4, 9])![0].perSample[1].loss).toBe(-Infinity);
    expect(t.load(2, [5])).toEqual(runs(0.125));
    expect(t.load(1, [7])).toBeUndefined();
    // another job key has its own folder
    expect(new DirChunkStore(out, 'key2').savedChunks).toBe(0);
  });

  test('a chunk of other images or a file it cannot read is ignored, and the log names it', () => {
    const out = path.join(tmp, 'b');
    new DirChunkStore(out, 'k').save(0, [1, 2], runs(1));
    fs.writeFileSync(path.join(partialDir(out, 'k'), 'chunk-1.json'), '{"format": "opulab.chunk/1", "chu');
    fs.writeFileSync(path.join(partialDir(out, 'k'), 'chunk-2.json'), JSON.stringify({ format: 'opulab.chunk/1', chunk: 3, indices: [], elapsedSec: 1, runs: [] }));
    const lines: string[] = [];
    const s = new DirChunkStore(out, 'k', (l) => lines.push(l));
    expect(s.savedChunks).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/ignoring saved chunk .*chunk-1\.json .*computed again/), expect.stringMatching(/chunk-2\.json \(not a opulab.chunk\/1 file for chunk 2\)/)]);
    expect(s.load(0, [1, 3])).toBeUndefined();
    expect(lines[2]).toMatch(/ignoring saved chunk 0 .*other images/);
    expect(s.load(0, [1, 2])).toEqual(runs(1));
  });

  test('wall time continues from the largest elapsed time saved; clear removes the folder', () => {
    const out = path.join(tmp, 'c');
    const dir = partialDir(out, 'k');
    fs.mkdirSync(dir, { recursive: true });
    for (const [k, sec] of [[0, 120], [1, 300], [2, 80]]) {
      fs.writeFileSync(path.join(dir, `chunk-${k}.json`), JSON.stringify({ format: 'opulab.chunk/1', chunk: k, indices: [k], elapsedSec: sec, runs: runs(0) }));
    }
    const s = new DirChunkStore(out, 'k');
    expect(s.priorSeconds).toBe(300);
    expect(s.elapsedSec()).toBeGreaterThanOrEqual(300);
    expect(s.elapsedSec()).toBeLessThan(360);
    s.save(3, [3], runs(0));
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'chunk-3.json'), 'utf8')) as { elapsedSec: number };
    expect(saved.elapsedSec).toBeGreaterThanOrEqual(300);
    s.clear();
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync(path.dirname(dir))).toBe(false);
    new DirChunkStore(out, 'gone').clear();
  });
});
