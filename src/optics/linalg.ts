/** Small dense linear algebra in float64 for system identification (row-major arrays). */

/**
 * Inverse of a symmetric positive (semi)definite p x p matrix via Cholesky, after adding
 * ridge * mean(diag) to the diagonal (Tikhonov; keeps under-determined designs solvable).
 */
export function spdInverse(a: Float64Array, p: number, ridge: number): Float64Array {
  let meanDiag = 0;
  for (let i = 0; i < p; i++) meanDiag += a[i * p + i];
  meanDiag = meanDiag / p || 1;
  const l = Float64Array.from(a);
  for (let i = 0; i < p; i++) l[i * p + i] += ridge * meanDiag;
  // In-place Cholesky: lower triangle of l becomes L with A = L L^T.
  for (let j = 0; j < p; j++) {
    let d = l[j * p + j];
    for (let k = 0; k < j; k++) d -= l[j * p + k] * l[j * p + k];
    if (!(d > 0)) d = 1e-12 * meanDiag;
    const ljj = Math.sqrt(d);
    l[j * p + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = l[i * p + j];
      const ri = i * p;
      const rj = j * p;
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      l[i * p + j] = s / ljj;
    }
  }
  // Invert L (lower triangular) in place into linv, then A^-1 = L^-T L^-1.
  const linv = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    linv[i * p + i] = 1 / l[i * p + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * p + k] * linv[k * p + j];
      linv[i * p + j] = s / l[i * p + i];
    }
  }
  const inv = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < p; k++) s += linv[k * p + i] * linv[k * p + j];
      inv[i * p + j] = s;
      inv[j * p + i] = s;
    }
  }
  return inv;
}

/**
 * Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations.
 * Returns eigenvalues (descending) and eigenvectors as columns of a row-major n x n matrix.
 */
export function symmetricEigen(a: Float64Array, n: number, sweeps = 30): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = m[i * n + j] * m[i * n + j];
        total += x;
        if (i !== j) off += x;
      }
    }
    if (off <= 1e-22 * total || total === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j] - m[i * n + i]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = m[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}
