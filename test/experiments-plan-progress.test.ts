/**
 * `run --check` on an output directory where a run stopped part-way: the epochs each unfinished checkpoint holds,
 * the chunks each unfinished attack job saved, what the journal records, and checkpoint folders of no model.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readSpecFile } from '../src/experiments/spec';
import { planJobs } from '../src/experiments/jobs';
import { datasetInfo, planLines } from '../src/experiments/plan';
import { DirChunkStore } from '../src/experiments/chunk-store';
import { checkpointProgress } from '../src/experiments/progress';
import { tempDir } from './helpers/tmp';

const spec = readSpecFile(path.join(__dirname, 'fixtures', 'tiny-spec.json'));
const tmp = tempDir('opulab-plan-');
const shard = { index: 0, count: 1 };

function writeCheckpointMeta(dir: string, history: { testAccuracy: number; seconds: number }[]): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'x', train: { epochsDone: history.length, history } }));
}

describe('run --check reports where a stopped run stands', () => {
  it('a fresh output directory: nothing trained, nothing done', () => {
    const lines = planLines(spec, 'tiny.json', path.join(tmp, 'fresh'), shard);
    expect(lines.filter((l) => /trained|chunks saved|\(done\)/.test(l))).toEqual([`in ${path.join(tmp, 'fresh')}: 0 of 2 models trained and recorded, 0 of 11 attack jobs done`]);
  });

  it('epochs of an unfinished checkpoint, a finished but unrecorded one, saved chunks, journaled jobs, stray folders', () => {
    const out = path.join(tmp, 'stopped');
    const plan = planJobs(spec, out, datasetInfo(spec.dataset));
    const [base] = plan.models;
    // base: its only epoch trained, not journaled yet; opt: a 3-epoch variant of the spec stopped after 2
    writeCheckpointMeta(base.dir, [{ testAccuracy: 0.4375, seconds: 3 }]);
    const longer = { ...spec, models: spec.models.map((m) => (m.name === 'opt' ? { ...m, train: { ...m.train, epochs: 3 } } : m)) };
    const longPlan = planJobs(longer, out, datasetInfo(spec.dataset));
    writeCheckpointMeta(longPlan.models[1].dir, [
      { testAccuracy: 0.25, seconds: 2 },
      { testAccuracy: 0.3125, seconds: 2.5 },
    ]);
    // a folder of no model of the spec
    fs.mkdirSync(path.join(out, 'checkpoints', 'old-0123456789abcdef'), { recursive: true });
    // job 0 journaled, job 1 with a saved chunk
    const [done, started] = plan.attacks;
    fs.writeFileSync(path.join(out, 'journal.jsonl'), JSON.stringify({ kind: 'runs', key: done.key, order: done.order, records: [] }) + '\n');
    new DirChunkStore(out, started.key).save(0, [0, 1], []);

    const longLines = planLines(longer, 'tiny.json', out, shard);
    expect(longLines).toContain(`  opt: vgg11-w0.125-optical-hybrid, 3 epochs (trained 2 of 3 epochs, test 31.3%)`);
    expect(longLines).toContain(`  base: vgg11-w0.125-none-bp, 1 epoch (trained, test 43.8%; not recorded yet)`);

    // under the 1-epoch spec the 3-epoch folder belongs to no model, and opt has no checkpoint
    const lines = planLines(spec, 'tiny.json', out, shard);
    expect(lines).toContain(`  opt: vgg11-w0.125-optical-hybrid, 1 epoch`);
    expect(lines.filter((l) => /no model of this spec/.test(l)).map((l) => path.basename(l.split(':')[0])).sort()).toEqual(
      [path.basename(longPlan.models[1].dir), 'old-0123456789abcdef'].sort(),
    );
    expect(lines.find((l) => l.startsWith(`  ${done.spec.attack}`) && l.includes('(done)'))).toBeDefined();
    // 16 attack images in chunks of 16: one chunk a job
    expect(lines.filter((l) => l.endsWith('(1 of 1 chunks saved)'))).toHaveLength(1);
    expect(lines[lines.length - 1]).toBe(`in ${out}: 0 of 2 models trained and recorded, 1 of 11 attack jobs done, 1 partly done`);
    expect(checkpointProgress(longPlan.models[1].dir)).toEqual({ epochsDone: 2, testAccuracy: 0.3125, seconds: 4.5 });
  });

  it('an unreadable checkpoint is named, not fatal', () => {
    const out = path.join(tmp, 'corrupt');
    const plan = planJobs(spec, out, datasetInfo(spec.dataset));
    fs.mkdirSync(plan.models[0].dir, { recursive: true });
    fs.writeFileSync(path.join(plan.models[0].dir, 'model.json'), '{not json');
    const line = planLines(spec, 'tiny.json', out, shard).find((l) => l.startsWith('  base:'))!;
    expect(line).toMatch(/^  base: vgg11-w0\.125-none-bp, 1 epoch \(checkpoint unreadable: .*JSON/);
  });
});
