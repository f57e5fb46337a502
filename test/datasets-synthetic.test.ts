/** The seeded synthetic dataset: determinism, balance, and where its label lives (a faint texture). */
import { generateSynthetic, loadDataset, perClassCounts } from '../datasets';
import type { Dataset } from '../datasets';

/** Accuracy of a nearest-class-mean classifier on raw pixels, trained on `train`, scored on `test`. */
function nearestClassMeanAccuracy(train: Dataset, test: Dataset): number {
  const d = train.height * train.width * train.channels;
  const k = train.numClasses;
  const means = new Float64Array(k * d);
  const counts = perClassCounts(train);
  for (let i = 0; i < train.n; i++) {
    const l = train.labels[i];
    for (let j = 0; j < d; j++) means[l * d + j] += train.images[i * d + j] / counts[l];
  }
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1;
    let bestDist = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const e = test.images[i * d + j] - means[c * d + j];
        s += e * e;
      }
      if (s < bestDist) {
        bestDist = s;
        best = c;
      }
    }
    if (best === test.labels[i]) correct++;
  }
  return correct / test.n;
}

/**
 * A matched filter written from the documented construction (not from the generator's code): project the colours on
 * grey (1,1,1) and on green-against-red-and-blue (-1,1,-1), correlate with each of the five +-1 square waves at its
 * four phases, and pick the strongest. Returns its accuracy and the mean fitted signature amplitude (in 1/255).
 */
function matchedFilter(ds: Dataset): { accuracy: number; amplitude255: number } {
  const S = 32;
  const sq = (t: number, half: number, o: number): number => (Math.floor((t + o) / half) % 2 === 0 ? 1 : -1);
  const waves = [(_x: number, y: number, o: number) => sq(y, 1, o), (x: number, _y: number, o: number) => sq(x, 1, o), (x: number, y: number, o: number) => sq(x + y, 1, o), (_x: number, y: number, o: number) => sq(y, 2, o), (x: number, _y: number, o: number) => sq(x, 2, o)];
  const colours = [[1, 1, 1], [-1, 1, -1]];
  let correct = 0;
  let amp = 0;
  for (let i = 0; i < ds.n; i++) {
    let best = -1;
    let bestScore = -Infinity;
    let bestAmp = 0;
    colours.forEach((col, ci) => {
      const proj = new Float64Array(S * S);
      for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) proj[p] += (col[c] * ds.images[(i * S * S + p) * 3 + c]) / 3;
      waves.forEach((w, wi) => {
        for (let o = 0; o < 4; o++) {
          let s = 0;
          for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) s += proj[y * S + x] * w(x, y, o);
          const score = Math.abs(s) / (S * S);
          if (score > bestScore) {
            bestScore = score;
            best = ci * 5 + wi;
            bestAmp = score;
          }
        }
      });
    });
    if (best === ds.labels[i]) correct++;
    amp += bestAmp;
  }
  return { accuracy: correct / ds.n, amplitude255: amp / ds.n };
}

describe('synthetic dataset', () => {
  test('same seed = same bytes; another seed or split differs; a smaller set is a prefix', () => {
    const a = generateSynthetic({ n: 40, seed: 7, split: 'train' });
    const b = generateSynthetic({ n: 40, seed: 7, split: 'train' });
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(b.images))).toBe(0);
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    const other = generateSynthetic({ n: 40, seed: 8, split: 'train' });
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(other.images))).not.toBe(0);
    const test = generateSynthetic({ n: 40, seed: 7, split: 'test' });
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(test.images))).not.toBe(0);
    const prefix = generateSynthetic({ n: 13, seed: 7, split: 'train' });
    expect(Buffer.compare(Buffer.from(prefix.images), Buffer.from(a.images.subarray(0, 13 * 3072)))).toBe(0);
    expect(Array.from(prefix.labels)).toEqual(Array.from(a.labels.subarray(0, 13)));
  });

  test('labels are balanced per block of 10 and not in a fixed order; pixels span most of the range', () => {
    const ds = loadDataset('synthetic', 'train', { limit: 200, seed: 3 });
    expect(perClassCounts(ds)).toEqual(new Array(10).fill(20));
    for (let b = 0; b < 20; b++) {
      expect(Array.from(ds.labels.subarray(b * 10, b * 10 + 10)).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    expect(Array.from(ds.labels.subarray(0, 10))).not.toEqual(Array.from(ds.labels.subarray(10, 20)));
    let lo = 255;
    let hi = 0;
    for (const v of ds.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeLessThan(60);
    expect(hi).toBeGreaterThan(200);
    expect(ds.source).toBe('synthetic');
    expect(ds.classNames.length).toBe(10);
    expect(ds.normalization).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  });

  test('default sizes and bad sizes', () => {
    expect(() => generateSynthetic({ n: 0, seed: 0, split: 'train' })).toThrow(/synthetic dataset size 0/);
    expect(() => generateSynthetic({ n: 5, seed: 0.5, split: 'train' })).toThrow(/seed 0.5/);
    expect(loadDataset('synthetic', 'train', { limit: 3 }).n).toBe(3);
  });

  test('the label is in a faint texture, not in the large shapes: nearest class mean fails, a matched filter succeeds', () => {
    const train = loadDataset('synthetic', 'train', { limit: 800, seed: 1 });
    const test = loadDataset('synthetic', 'test', { limit: 200, seed: 1 });
    // the big structure carries no label: a pixel-space classifier is near chance (10%)
    expect(nearestClassMeanAccuracy(train, test)).toBeLessThan(0.2);
    // the faint texture does, and it is perturbation-sized (about 8/255)
    const mf = matchedFilter(test);
    expect(mf.accuracy).toBeGreaterThan(0.8);
    expect(mf.amplitude255).toBeGreaterThan(4);
    expect(mf.amplitude255).toBeLessThan(12);
  });
});
