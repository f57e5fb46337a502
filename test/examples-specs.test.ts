import * as fs from 'fs';
import * as path from 'path';
import { readSpecFile } from '../src/experiments/spec';
import { planJobs } from '../src/experiments/runner';
import { generateSynthetic } from '../datasets/synthetic';
import { createAttack } from '../attacks/registry';

const dir = path.join(__dirname, '..', 'examples');

describe('shipped experiment specs', () => {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  it('include the presets the docs promise', () => {
    expect(files).toEqual(expect.arrayContaining(['reference-cifar10.json', 'ablation-cifar10.json', 'cifar100.json', 'quick.json']));
  });
  it.each(files)('%s validates, plans, and names only real attacks with valid parameters', (f) => {
    const spec = readSpecFile(path.join(dir, f));
    const data = generateSynthetic({ n: 4, seed: 0, split: 'test' });
    const plan = planJobs(spec, '/tmp/unused', data);
    expect(plan.attacks.length).toBeGreaterThan(0);
    for (const a of spec.attacks) {
      const name = a.attack === 'transfer' ? a.craft! : a.attack;
      const params: Record<string, unknown> = { ...a.params };
      if (typeof params.stepSize === 'number') params.stepSize = 0.01;
      expect(() => createAttack(name, params)).not.toThrow();
    }
  });
});
