/**
 * JS-side, seeded training augmentation (docs/method.md §1; torchvision order): random crop 32 with zero
 * padding, horizontal flip (p = 0.5), then a random rotation in [-deg, +deg] (bilinear, zero fill).
 */
import { Rng } from '../src/util/rng';
import { UserError } from '../src/util/errors';
import { DatasetName } from './types';

// Local bindings: global lookups (Math.*) are slow inside vm contexts such as jest's; these run per pixel.
const { PI, cos, floor, sin } = Math;

export interface AugmentOptions {
  /** Zero padding of the random crop, in pixels (0 = no crop). */
  padding?: number;
  /** Random horizontal flip with probability 0.5. */
  flip?: boolean;
  /** Maximum absolute rotation, in degrees (0 = none). */
  rotationDeg?: number;
}

/**
 * The reference's training augmentation per dataset: crop pad 4 + flip, plus rotation 15 degrees for
 * CIFAR-100 (docs/method.md §1). The synthetic families are flip/rotation invariant, so they get the same as
 * CIFAR-10.
 */
export function defaultAugmentation(name: DatasetName): AugmentOptions {
  switch (name) {
    case 'cifar100':
      return { padding: 4, flip: true, rotationDeg: 15 };
    case 'cifar10':
    case 'cifar10-mini':
    case 'synthetic':
      return { padding: 4, flip: true, rotationDeg: 0 };
  }
}

export function checkAugmentOptions(a: AugmentOptions): void {
  const pad = a.padding ?? 0;
  if (!Number.isInteger(pad) || pad < 0) throw new UserError(`augmentation padding ${pad} is not valid: expected an integer >= 0`);
  const rot = a.rotationDeg ?? 0;
  if (!Number.isFinite(rot) || rot < 0 || rot > 180) {
    throw new UserError(`augmentation rotation ${rot} is not valid: expected degrees in [0, 180]`);
  }
}

export interface ImageGeometry {
  height: number;
  width: number;
  channels: number;
}

/**
 * Write one augmented image as float32 pixels in [0, 1] (HWC) to `out` at `outOffset`, reading uint8 HWC
 * from `src` at `srcOffset`. Random draws, in order: crop offsets (if padding), flip (if flip), angle
 * (if rotation); so a given rng state always produces the same image.
 */
export function augmentImage(
  src: Uint8Array,
  srcOffset: number,
  geom: ImageGeometry,
  opts: AugmentOptions,
  rng: Rng,
  out: Float32Array,
  outOffset: number,
): void {
  const { height: h, width: w, channels: ch } = geom;
  const pad = opts.padding ?? 0;
  // crop of the zero-padded image: output (x, y) reads input (x + ox, y + oy), ox, oy in [-pad, pad]
  const ox = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
  const oy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
  const flip = opts.flip ? rng.uniform() < 0.5 : false;
  const maxRot = opts.rotationDeg ?? 0;
  const angle = maxRot > 0 ? (rng.range(-maxRot, maxRot) * PI) / 180 : 0;

  /** Offset into src of pixel (x, y) of the cropped+flipped image, or -1 when it falls in the padding. */
  const sourceOf = (x: number, y: number): number => {
    if (x < 0 || x >= w || y < 0 || y >= h) return -1;
    const sx = (flip ? w - 1 - x : x) + ox;
    const sy = y + oy;
    if (sx < 0 || sx >= w || sy < 0 || sy >= h) return -1;
    return srcOffset + (sy * w + sx) * ch;
  };

  if (angle === 0) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = sourceOf(x, y);
        const d = outOffset + (y * w + x) * ch;
        for (let c = 0; c < ch; c++) out[d + c] = s < 0 ? 0 : src[s + c] / 255;
      }
    }
    return;
  }

  // Rotation about the image centre by inverse mapping: output (x, y) samples the crop+flip image at
  // (u, v) = R(-angle) (x - c, y - c) + c, bilinearly, with zeros outside.
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const ca = cos(angle);
  const sa = sin(angle);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = ca * (x - cx) + sa * (y - cy) + cx;
      const v = -sa * (x - cx) + ca * (y - cy) + cy;
      const x0 = floor(u);
      const y0 = floor(v);
      const fx = u - x0;
      const fy = v - y0;
      const s00 = sourceOf(x0, y0);
      const s10 = sourceOf(x0 + 1, y0);
      const s01 = sourceOf(x0, y0 + 1);
      const s11 = sourceOf(x0 + 1, y0 + 1);
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const d = outOffset + (y * w + x) * ch;
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        if (s00 >= 0) acc += w00 * src[s00 + c];
        if (s10 >= 0) acc += w10 * src[s10 + c];
        if (s01 >= 0) acc += w01 * src[s01 + c];
        if (s11 >= 0) acc += w11 * src[s11 + c];
        out[d + c] = acc / 255;
      }
    }
  }
}
