/**
 * fillNormal (src/util/normal.ts), the camera's Gaussian noise: deterministic per seed, and standard normal
 * (moments, Kolmogorov-Smirnov distance to the normal CDF, the tail beyond the ziggurat's base layer, bins).
 */
import { fillNormal } from '../src/util/normal';
import { Camera } from '../src/optics/camera';
import { initBackend } from '../src/backend';

beforeAll(async () => {
  await initBackend('wasm', true);
});

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, error < 1.5e-7). */
function phi(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return 0.5 * (1 + (x >= 0 ? y : -y));
}

describe('fillNormal', () => {
  const n = 1_000_000;
  const z = fillNormal(new Float32Array(n), 0, 1, 12345);

  it('same seed, same numbers; a longer fill starts with the shorter one; other seeds differ', () => {
    const again = fillNormal(new Float32Array(1000), 0, 1, 12345);
    expect(Array.from(again)).toEqual(Array.from(z.subarray(0, 1000)));
    const other = fillNormal(new Float32Array(1000), 0, 1, 12346);
    expect(other.filter((v, i) => v === again[i]).length).toBeLessThan(5);
    const scaled = fillNormal(new Float32Array(1000), 3, 2, 12345);
    scaled.forEach((v, i) => expect(v).toBeCloseTo(Math.fround(3 + 2 * again[i]), 5));
  });

  it('moments of a standard normal', () => {
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (const v of z) {
      m1 += v;
      m2 += v * v;
      m3 += v * v * v;
      m4 += v * v * v * v;
    }
    // standard errors at n = 1e6: mean 0.001, variance 0.0014, skewness 0.0024, kurtosis 0.005
    expect(Math.abs(m1 / n)).toBeLessThan(0.005);
    expect(Math.abs(m2 / n - 1)).toBeLessThan(0.007);
    expect(Math.abs(m3 / n)).toBeLessThan(0.012);
    expect(Math.abs(m4 / n - 3)).toBeLessThan(0.03);
  });

  it('Kolmogorov-Smirnov distance to the normal CDF, tail mass beyond R = 3.4426 and central bins', () => {
    const sorted = Float64Array.from(z).sort();
    let d = 0;
    for (let i = 0; i < n; i += 37) d = Math.max(d, Math.abs(phi(sorted[i]) - (i + 0.5) / n));
    // the 1% critical value at n = 1e6 is 1.63 / sqrt(n) = 0.0016
    expect(d).toBeLessThan(0.0016);
    const tail = z.filter((v) => Math.abs(v) > 3.442619855899).length / n;
    const expected = 2 * (1 - phi(3.442619855899));
    expect(Math.abs(tail - expected)).toBeLessThan(5 * Math.sqrt(expected / n));
    // the wedges: mass between consecutive half-sigma points matches
    for (let a = -3; a < 3; a += 0.5) {
      const p = z.filter((v) => v >= a && v < a + 0.5).length / n;
      const q = phi(a + 0.5) - phi(a);
      expect(Math.abs(p - q)).toBeLessThan(5 * Math.sqrt(q / n) + 1e-4);
    }
  });

  it('rejects a non-integer seed; the camera draws from it (arrays and tensors alike)', () => {
    expect(() => fillNormal(new Float32Array(2), 0, 1, 0.5)).toThrow(/integer/);
    const cfg = { shotNoise: true, readNoiseStd: 2, seed: 9 };
    const a = new Camera(cfg);
    const b = new Camera(cfg);
    for (let k = 0; k < 3; k++) {
      const t = a.drawNoise([3, 5])!;
      const into = new Float32Array(20);
      const arr = b.drawNoiseArrays(15, into, 5)!;
      expect(Array.from(into.subarray(5))).toEqual(Array.from(t.dataSync()));
      expect(Array.from(arr)).toEqual(Array.from(t.dataSync()));
      expect(Array.from(into.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
      t.dispose();
    }
    // a noise-free camera draws nothing and leaves its stream where it was
    const quiet = new Camera({ gain: 2, seed: 9 });
    expect(quiet.drawNoise([3, 5])).toBeNull();
    expect(quiet.drawNoiseArrays(15)).toBeNull();
  });
});
