/**
 * Seeded Gaussian samples written straight into a Float32Array, for camera noise (src/optics/camera.ts): the
 * ziggurat method in Doornik's form ("An Improved Ziggurat Method to Generate Normal Random Samples", 2005: 128
 * layers, the rectangle test on a uniform independent of the layer index, Marsaglia's tail beyond R) on the
 * xoshiro128** generator (Blackman & Vigna 2018) seeded through splitmix32. About 98.8% of samples cost two 32-bit
 * draws, a table lookup and one comparison (no logarithm), several times faster than the polar method. Same seed,
 * same numbers, on every machine: only 32-bit integer operations (Math.imul, shifts) and IEEE double arithmetic.
 * Distribution pinned by test/util-normal.test.ts (moments, Kolmogorov-Smirnov distance, tail mass).
 */

const { exp, log, sqrt, imul } = Math;

const LAYERS = 128;
/** Right edge of the base layer and the area of each layer (Doornik 2005, ZIGNOR_R / ZIGNOR_V). */
const R = 3.442619855899;
const V = 9.91256303526217e-3;

/** Layer edges x[0..128] (x[0] = V / f(R), x[1] = R, x[128] = 0) and the ratios x[i+1] / x[i]. */
const X = new Float64Array(LAYERS + 1);
const RATIO = new Float64Array(LAYERS);
(() => {
  let f = exp(-0.5 * R * R);
  X[0] = V / f;
  X[1] = R;
  X[LAYERS] = 0;
  for (let i = 2; i < LAYERS; i++) {
    X[i] = sqrt(-2 * log(V / X[i - 1] + f));
    f = exp(-0.5 * X[i] * X[i]);
  }
  for (let i = 0; i < LAYERS; i++) RATIO[i] = X[i + 1] / X[i];
})();

const TWO_POW_32 = 4294967296;
const TWO_POW_31 = 2147483648;

/** splitmix32 (a 32-bit finalizer of a Weyl sequence): spreads an integer seed over the generator's state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = imul(z ^ (z >>> 16), 0x85ebca6b);
  z = imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** on a 4-word state: the next 32-bit output, unsigned (the rare paths below; the fast path inlines it). */
function nextU32(st: Int32Array): number {
  const b = st[1];
  const r = imul(((imul(b, 5) << 7) | (imul(b, 5) >>> 25)), 9) >>> 0;
  const t = b << 9;
  st[2] ^= st[0];
  st[3] ^= b;
  st[1] ^= st[2];
  st[0] ^= st[3];
  st[2] ^= t;
  st[3] = (st[3] << 11) | (st[3] >>> 21);
  return r;
}

/** Uniform in (0, 1), never 0 (a logarithm's argument). */
function u01(st: Int32Array): number {
  return (nextU32(st) + 0.5) / TWO_POW_32;
}

/**
 * The rare outcomes of a ziggurat draw that missed its layer's rectangle (about 1.2%): the base layer's tail
 * beyond R (Marsaglia 1964), or the wedge between the rectangle and the density. NaN: rejected, draw again.
 */
function outsideRectangle(st: Int32Array, u: number, i: number): number {
  if (i === 0) {
    let x: number;
    let y: number;
    do {
      x = log(u01(st)) / R;
      y = log(u01(st));
    } while (-2 * y < x * x);
    return u < 0 ? x - R : R - x;
  }
  const x = u * X[i];
  const f0 = exp(-0.5 * (X[i] * X[i] - x * x));
  const f1 = exp(-0.5 * (X[i + 1] * X[i + 1] - x * x));
  return f1 + u01(st) * (f0 - f1) < 1 ? x : NaN;
}

/**
 * Fill `out` with N(mean, std^2) samples from the stream of `seed` (an integer; the same seed gives the same
 * values, whatever the length asked for: a longer fill starts with a shorter one's values).
 */
export function fillNormal(out: Float32Array, mean: number, std: number, seed: number): Float32Array {
  if (!Number.isInteger(seed)) throw new Error(`normal stream seed ${seed}: expected an integer`);
  const init = { s: seed | 0 };
  const st = new Int32Array(4);
  for (let j = 0; j < 4; j++) st[j] = splitmix32(init);
  if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1; // the all-zero state is the generator's one fixed point
  // the generator's state in locals on the fast path (written back around the rare path)
  let a = st[0];
  let b = st[1];
  let c = st[2];
  let d = st[3];
  const n = out.length;
  for (let k = 0; k < n; ) {
    // xoshiro128**, twice: a uniform u in (-1, 1) from a signed 32-bit output, and the layer index i from the low
    // bits of the next one (independent of u, Doornik 2005); int32 values throughout, so no float boxing
    const r1 = imul(((imul(b, 5) << 7) | (imul(b, 5) >>> 25)), 9);
    let t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    const u = (r1 + 0.5) / TWO_POW_31;
    const r2 = imul(((imul(b, 5) << 7) | (imul(b, 5) >>> 25)), 9);
    t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    const i = r2 & (LAYERS - 1);
    if (Math.abs(u) < RATIO[i]) {
      out[k++] = mean + std * (u * X[i]);
      continue;
    }
    st[0] = a;
    st[1] = b;
    st[2] = c;
    st[3] = d;
    const z = outsideRectangle(st, u, i);
    a = st[0];
    b = st[1];
    c = st[2];
    d = st[3];
    if (z === z) out[k++] = mean + std * z;
  }
  return out;
}
