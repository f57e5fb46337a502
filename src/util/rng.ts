/**
 * Seeded randomness for everything JS-side (seedrandom's ARC4 generator; never Math.random).
 * tfjs random ops get explicit integer seeds drawn from these generators via `nextSeed()`.
 */
import seedrandom from 'seedrandom';

// Local bindings: per-element Math.* property lookups are markedly slower in some module sandboxes (jest).
const { sqrt, log, sin, cos, floor, PI } = Math;

export interface Rng {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** A fresh 31-bit integer seed for a tfjs random op or a child generator. */
  nextSeed(): number;
  /** In-place Fisher-Yates shuffle; returns the same array. */
  shuffle<T>(a: T[]): T[];
  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array;
}

class SeededRng implements Rng {
  private readonly g: seedrandom.PRNG;
  private spare: number | null = null;

  constructor(seed: string) {
    this.g = seedrandom(seed);
  }

  uniform(): number {
    return this.g();
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.g();
  }

  int(n: number): number {
    return floor(this.g() * n);
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.g();
    const v = this.g();
    const r = sqrt(-2 * log(u));
    this.spare = r * sin(2 * PI * v);
    return r * cos(2 * PI * v);
  }

  nextSeed(): number {
    return floor(this.g() * 0x7fffffff);
  }

  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = floor(this.g() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = floor(this.g() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

/**
 * A generator for (seed, ...labels). Labels derive independent streams from one user seed, so adding a
 * consumer of randomness never shifts the numbers another consumer sees.
 */
export function makeRng(seed: number, ...labels: (string | number)[]): Rng {
  return new SeededRng([String(seed), ...labels.map(String)].join('/'));
}

/** A 31-bit integer seed derived from (seed, ...labels): for tfjs random ops and child generators. */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  return makeRng(seed, ...labels).nextSeed();
}

/** Fill a Float32Array with N(0, std^2) samples. */
export function fillNormal(rng: Rng, out: Float32Array, std = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
  return out;
}

/** Fill a Float32Array with U[lo, hi) samples. */
export function fillUniform(rng: Rng, out: Float32Array, lo = 0, hi = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}
