/**
 * The input-diversity transform of DI-FGSM (Xie et al., CVPR 2019), for fixed-size classifiers: with
 * probability p, shrink the image to a random side r in [ceil(resizeRate * H), H] by nearest-neighbour
 * resizing and zero-pad it back to H x W at a random offset. The transform is linear and a pixel
 * selection, so its adjoint (for the gradient) scatters the output gradient back to the source pixels.
 * Done JS-side from a seeded generator, identical on every backend.
 */
import type { Rng } from '../../src/util/rng';

/** For every output pixel (NHWC row-major over one image, channels excluded), its source pixel or -1 (padding). */
export type PixelMap = Int32Array;

/** Draw one example's transform: identity with probability 1 - p. */
export function drawDiversityMap(rng: Rng, h: number, w: number, resizeRate: number, probability: number): PixelMap | null {
  if (rng.uniform() >= probability) return null;
  const minSide = Math.min(h, Math.ceil(resizeRate * h));
  const rh = minSide + rng.int(h - minSide + 1);
  const rw = Math.max(1, Math.round((rh * w) / h));
  const top = rng.int(h - rh + 1);
  const left = rng.int(w - rw + 1);
  const map = new Int32Array(h * w).fill(-1);
  for (let i = 0; i < rh; i++) {
    const si = Math.floor((i * h) / rh);
    for (let j = 0; j < rw; j++) {
      const sj = Math.floor((j * w) / rw);
      map[(top + i) * w + (left + j)] = si * w + sj;
    }
  }
  return map;
}

/** out[n] = T_n(x[n]) for a batch of flat NHWC images (null map = identity). */
export function applyMaps(x: Float32Array, maps: (PixelMap | null)[], hw: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  maps.forEach((map, n) => {
    const base = n * hw * c;
    if (!map) {
      out.set(x.subarray(base, base + hw * c), base);
      return;
    }
    for (let p = 0; p < hw; p++) {
      const s = map[p];
      if (s < 0) continue;
      for (let k = 0; k < c; k++) out[base + p * c + k] = x[base + s * c + k];
    }
  });
  return out;
}

/** The adjoint: grad_x[n] = T_n^T(grad_out[n]) (scatter-add to source pixels). */
export function applyMapsTransposed(g: Float32Array, maps: (PixelMap | null)[], hw: number, c: number): Float32Array {
  const out = new Float32Array(g.length);
  maps.forEach((map, n) => {
    const base = n * hw * c;
    if (!map) {
      out.set(g.subarray(base, base + hw * c), base);
      return;
    }
    for (let p = 0; p < hw; p++) {
      const s = map[p];
      if (s < 0) continue;
      for (let k = 0; k < c; k++) out[base + s * c + k] += g[base + p * c + k];
    }
  });
  return out;
}
