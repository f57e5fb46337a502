/**
 * Gaussian samples as plain arrays, bit for bit the numbers of `tf.randomNormal(shape, mean, std, 'float32',
 * seed)`: tfjs-core's Marsaglia polar method on seedrandom's Alea generator seeded with the seed's decimal text,
 * pairs in order (x first, then y), each value `mean + std * v * mul`. Written out here so that camera noise for
 * ONNX Runtime feeds (and for the tfjs readout) fills a Float32Array in one tight loop instead of a tfjs buffer,
 * a tensor and a read-back: the same stream, several times faster. Pinned by test/util-tf-normal.test.ts against
 * the tfjs op itself.
 */
import seedrandom from 'seedrandom';

const { sqrt, log } = Math;

interface AleaState {
  c: number;
  s0: number;
  s1: number;
  s2: number;
}

/** Fill `out` with N(mean, std^2) samples: the values tf.randomNormal gives for this seed and length. */
export function fillRandomNormal(out: Float32Array, mean: number, std: number, seed: number): Float32Array {
  // tfjs seeds its generator with `seed ? seed : Math.random()` (seed 0 draws an unseeded stream); so does this.
  const seedText = String(seed ? seed : Math.random());
  const st = (seedrandom.alea(seedText, { state: true }) as unknown as { state(): AleaState }).state();
  let { c, s0, s1, s2 } = st;
  const n = out.length;
  let i = 0;
  while (i < n) {
    let v1: number;
    let v2: number;
    let s: number;
    do {
      // Alea (Baagøe), as seedrandom's alea.js next(): two uniforms in [0, 1)
      let t = 2091639 * s0 + c * 2.3283064365386963e-10;
      s0 = s1;
      s1 = s2;
      s2 = t - (c = t | 0);
      v1 = 2 * s2 - 1;
      t = 2091639 * s0 + c * 2.3283064365386963e-10;
      s0 = s1;
      s1 = s2;
      s2 = t - (c = t | 0);
      v2 = 2 * s2 - 1;
      s = v1 * v1 + v2 * v2;
    } while (s >= 1 || s === 0);
    const mul = sqrt((-2.0 * log(s)) / s);
    out[i++] = mean + std * v1 * mul;
    if (i < n) out[i++] = mean + std * v2 * mul;
  }
  return out;
}
