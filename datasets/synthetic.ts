/**
 * A seeded, procedurally generated 10-class 32x32x3 dataset for offline demos and tests, built so that an
 * undefended model is NOT robust on it, as on real images: the class evidence is small, perturbation-sized.
 *
 * Each image is clutter that carries no label (one of ten shape families: stripes, lattice, blob, ring,
 * checkerboard, square, cross, dots, concentric rings, drawn at random with random colours, independent of the
 * label) plus the class signature: a faint square-wave texture of amplitude 6/255 to 10/255 (about the size of an
 * 8/255 attack), chosen by the label among five spatial patterns (rows or columns alternating every pixel or every
 * two pixels, or a one-pixel checkerboard) in one of two colour directions (grey, or green against red and blue),
 * with a random phase; plus uniform pixel noise (std 0.02). A model learns to read the faint texture (the big
 * shapes are useless for the label), so an L-inf perturbation of 8/255 can erase or replace it: "non-robust
 * features" (Ilyas et al. 2019). Every signature is invariant as a set under horizontal flips and shifts, so
 * CIFAR-style augmentation (padding + crop, flip) keeps labels valid.
 *
 * Image i of a split is drawn from its own generator makeRng(seed, 'synthetic', split, i), so the first N
 * images do not depend on how many are generated. Labels are balanced in blocks of 10 (a seeded permutation
 * of the classes per block).
 */
import { makeRng, Rng } from '../src/util/rng';
import { UserError } from '../src/util/errors';
import { IMAGE_CHANNELS, IMAGE_SIZE, PIXELS_PER_IMAGE } from './cifar-binary';
import { Dataset, normalizationFor, Split } from './types';

export const SYNTHETIC_CLASS_NAMES = [
  'rows-1px-grey',
  'columns-1px-grey',
  'checker-1px-grey',
  'rows-2px-grey',
  'columns-2px-grey',
  'rows-1px-green',
  'columns-1px-green',
  'checker-1px-green',
  'rows-2px-green',
  'columns-2px-green',
];
export const SYNTHETIC_NUM_CLASSES = SYNTHETIC_CLASS_NAMES.length;

/** Default sizes when no limit is given. */
export const SYNTHETIC_DEFAULT_SIZE: Readonly<Record<Split, number>> = { train: 5000, test: 1000 };

/** Amplitude range of the class signature, in [0, 1] pixel units (6/255 to 10/255). */
export const SIGNATURE_AMPLITUDE: readonly [number, number] = [6 / 255, 10 / 255];
/** Std of the additive pixel noise, in [0, 1] units. */
const NOISE_STD = 0.02;
/** Uniform noise in [-a, a] has std a / sqrt(3); uniform draws are ~10x cheaper than normal ones. */
const NOISE_HALF_WIDTH = NOISE_STD * Math.sqrt(3);

type Mask = (x: number, y: number) => number;

// Local bindings: global lookups (Math.*) are slow inside vm contexts such as jest's, and these run per pixel.
const { PI, abs, cos, exp, floor, max, min, round, sin, sqrt } = Math;

const TAU = 2 * PI;
const C = (IMAGE_SIZE - 1) / 2;

/** Smooth step from 0 (d <= -w) to 1 (d >= w): soft shape edges. */
function soft(d: number, w = 0.75): number {
  const t = min(1, max(0, (d + w) / (2 * w)));
  return t * t * (3 - 2 * t);
}

/** The clutter mask of shape family `family` (0-9), with its random parameters drawn from `rng`. Values in [0, 1]. */
function clutterMask(family: number, rng: Rng): Mask {
  const cx = C + rng.range(-5, 5);
  const cy = C + rng.range(-5, 5);
  const phase = rng.range(0, TAU);
  switch (family) {
    case 0: {
      const f = rng.range(0.1, 0.2);
      return (_x, y) => 0.5 + 0.5 * sin(TAU * f * y + phase);
    }
    case 1: {
      const f = rng.range(0.1, 0.2);
      return (x) => 0.5 + 0.5 * sin(TAU * f * x + phase);
    }
    case 2: {
      // product of the two diagonal gratings: a diamond lattice
      const f = rng.range(0.08, 0.14);
      const phase2 = rng.range(0, TAU);
      return (x, y) => 0.5 + 0.5 * sin(TAU * f * (x + y) + phase) * sin(TAU * f * (x - y) + phase2);
    }
    case 3: {
      const s = rng.range(4, 7);
      return (x, y) => exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
    }
    case 4: {
      const r = rng.range(6, 10);
      const w = rng.range(1.2, 2.2);
      return (x, y) => exp(-((sqrt((x - cx) ** 2 + (y - cy) ** 2) - r) ** 2) / (2 * w * w));
    }
    case 5: {
      const p = rng.range(5, 9);
      const phase2 = rng.range(0, TAU);
      return (x, y) => soft(4 * sin((TAU * x) / p + phase) * sin((TAU * y) / p + phase2));
    }
    case 6: {
      const h = rng.range(5, 9);
      return (x, y) => soft(h - max(abs(x - cx), abs(y - cy)));
    }
    case 7: {
      const w = rng.range(1.5, 3);
      return (x, y) => soft(w - min(abs(x - cx), abs(y - cy)));
    }
    case 8: {
      const p = rng.range(7, 10);
      const r = rng.range(1.8, 2.8);
      const ox = rng.range(0, p);
      const oy = rng.range(0, p);
      return (x, y) => {
        const dx = ((((x - ox) % p) + p) % p) - p / 2;
        const dy = ((((y - oy) % p) + p) % p) - p / 2;
        return soft(r - sqrt(dx * dx + dy * dy));
      };
    }
    case 9: {
      const p = rng.range(4.5, 7);
      return (x, y) => 0.5 + 0.5 * cos((TAU * sqrt((x - cx) ** 2 + (y - cy) ** 2)) / p + phase);
    }
    default:
      throw new Error(`synthetic: no clutter family ${family}`);
  }
}

/** HSV (h in degrees, s, v in [0, 1]) to RGB in [0, 1]. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hh = (((h % 360) + 360) % 360) / 60;
  const i = floor(hh);
  const f = hh - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (i) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/**
 * The class signature: a +-1 square wave chosen by `label % 5` (rows or columns with a 1- or 2-pixel half period,
 * or a 1-pixel checkerboard) with a random integer phase, in colour direction grey (1, 1, 1) for labels 0-4 or
 * green-against-red-and-blue (-1, 1, -1) for 5-9.
 */
function signature(label: number, rng: Rng): { wave: (x: number, y: number) => number; colour: readonly number[] } {
  const o = floor(rng.range(0, 4));
  const sq = (t: number, half: number): number => (floor((t + o) / half) % 2 === 0 ? 1 : -1);
  const waves: ((x: number, y: number) => number)[] = [
    (_x, y) => sq(y, 1),
    (x) => sq(x, 1),
    (x, y) => sq(x + y, 1),
    (_x, y) => sq(y, 2),
    (x) => sq(x, 2),
  ];
  return { wave: waves[label % 5], colour: label < 5 ? [1, 1, 1] : [-1, 1, -1] };
}

/** Draw one image of class `label` into `out` (NHWC bytes at `offset`). */
function drawImage(label: number, rng: Rng, out: Uint8Array, offset: number): void {
  const mask = clutterMask(floor(rng.range(0, 10)), rng);
  const fg = hsvToRgb(rng.range(0, 360), rng.range(0.2, 0.7), rng.range(0.5, 0.8));
  const bg = hsvToRgb(rng.range(0, 360), rng.range(0, 0.35), rng.range(0.2, 0.45));
  const sig = signature(label, rng);
  const amp = rng.range(SIGNATURE_AMPLITUDE[0], SIGNATURE_AMPLITUDE[1]);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const m = mask(x, y);
      const w = amp * sig.wave(x, y);
      const d = offset + (y * IMAGE_SIZE + x) * IMAGE_CHANNELS;
      for (let c = 0; c < IMAGE_CHANNELS; c++) {
        const v = bg[c] + (fg[c] - bg[c]) * m + w * sig.colour[c] + NOISE_HALF_WIDTH * (2 * rng.uniform() - 1);
        out[d + c] = round(255 * min(1, max(0, v)));
      }
    }
  }
}

export interface SyntheticOptions {
  n: number;
  seed: number;
  split: Split;
}

/** Generate the synthetic dataset; same (seed, split) = same bytes, and a prefix of a larger set. */
export function generateSynthetic(opts: SyntheticOptions): Dataset {
  const { n, seed, split } = opts;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`synthetic dataset size ${n} is not valid: expected a positive integer`);
  if (!Number.isInteger(seed)) throw new UserError(`synthetic dataset seed ${seed} is not valid: expected an integer`);
  const images = new Uint8Array(n * PIXELS_PER_IMAGE);
  const labels = new Int32Array(n);
  let block: Int32Array = new Int32Array(0);
  for (let i = 0; i < n; i++) {
    const k = i % SYNTHETIC_NUM_CLASSES;
    if (k === 0) block = makeRng(seed, 'synthetic', split, 'labels', i / SYNTHETIC_NUM_CLASSES).permutation(SYNTHETIC_NUM_CLASSES);
    labels[i] = block[k];
    drawImage(labels[i], makeRng(seed, 'synthetic', split, i), images, i * PIXELS_PER_IMAGE);
  }
  return {
    name: 'synthetic',
    numClasses: SYNTHETIC_NUM_CLASSES,
    classNames: [...SYNTHETIC_CLASS_NAMES],
    n,
    height: IMAGE_SIZE,
    width: IMAGE_SIZE,
    channels: IMAGE_CHANNELS,
    images,
    labels,
    source: 'synthetic',
    normalization: normalizationFor('synthetic'),
    provenance: { status: 'synthetic', official: false, files: [] },
  };
}
