/** max |ref - got| / max |ref|: the relative error kernels are compared with (asserts equal lengths). */
export function maxRelErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
  }
  return maxDiff / Math.max(maxRef, 1e-12);
}

/** max |a - b| / max |b| (max |a - b| when b is all zeros): shared with the benchmarks. */
export { relErr } from '../../src/util/numeric';
