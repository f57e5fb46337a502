/** Progress lines and bars (src/util/progress.ts). */
import { formatSeconds, progress } from '../src/util/progress';

function stream(isTTY: boolean): { s: NodeJS.WriteStream; out: string[] } {
  const out: string[] = [];
  const s = { isTTY, write: (t: string) => out.push(t) } as unknown as NodeJS.WriteStream;
  return { s, out };
}

describe('progress', () => {
  test('off a TTY: one line per update at most every logEverySec, with count, percent and the label', () => {
    const { s, out } = stream(false);
    const p = progress('pgd on m', 100, { stream: s, logEverySec: 0 });
    p.update(25, 'chunk 1/4');
    p.update(50);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^pgd on m 25\/100 \(25%\) \d+\.\ds eta \d+\.\ds chunk 1\/4\n$/);
    const slow = stream(false);
    const q = progress('x', 10, { stream: slow.s, logEverySec: 3600 });
    q.update(1);
    q.update(2);
    expect(slow.out).toHaveLength(1);
  });

  test('on a TTY: a redrawn bar; clear erases it without a line, done closes with one', () => {
    const { s, out } = stream(true);
    const p = progress('job', 4, { stream: s });
    p.update(2);
    expect(out[0]).toMatch(/^\r\[#{12}\.{12}\] job 2\/4 \(50%\)/);
    p.clear();
    expect(out[1]).toBe('\r\x1b[K');
    p.done('ok');
    expect(out[out.length - 1]).toMatch(/^job done in \d+\.\ds: ok\n$/);
  });

  test('quiet writes nothing; off a TTY clear writes nothing', () => {
    const { s, out } = stream(true);
    const p = progress('job', 4, { stream: s, quiet: true });
    p.update(1);
    p.clear();
    p.done();
    const plain = stream(false);
    progress('job', 4, { stream: plain.s }).clear();
    expect([...out, ...plain.out]).toEqual([]);
  });

  test('seconds format', () => {
    expect(formatSeconds(5.25)).toBe('5.3s');
    expect(formatSeconds(125)).toBe('2m05s');
  });
});
