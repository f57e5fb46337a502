/** The line a finished job prints: eps in the units the spec wrote them. */
import { summarize } from '../src/experiments/runner';
import type { RunRecord } from '../src/results/schema';

function run(model: string, eps: number, epsSpace: 'pixel' | 'normalized', epsInSpace: number | undefined, robust: number): RunRecord {
  return { model, attack: 'fgsm', threat: 'white-box', norm: 'linf', eps, epsSpace, epsInSpace, params: {}, n: 10, cleanAccuracy: 0.9, robustAccuracy: robust } as RunRecord;
}

describe('job summary line', () => {
  it('normalized eps print as the spec wrote them (not the pixel eps), and say so once', () => {
    const line = summarize([run('m', 0, 'normalized', 0, 0.85), run('m', 0.005, 'normalized', 0.01, 0.674)], 'm');
    expect(line).toBe('eps 0 85.0%, eps 0.01 67.4% (normalized eps)');
  });

  it('pixel eps keep their k/255 form; a transfer summary names the target model', () => {
    expect(summarize([run('m', 8 / 255, 'pixel', 8 / 255, 0.1)], 'm')).toBe('eps 8/255 10.0%');
    expect(summarize([run('a', 8 / 255, 'pixel', 8 / 255, 0.5), run('b', 8 / 255, 'pixel', 8 / 255, 0.25)])).toBe('a eps 8/255 50.0%, b eps 8/255 25.0%');
  });
});
