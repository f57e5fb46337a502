import { initBackend } from '../src/backend';
import { OpticalProcessingUnit } from '../src/optics/opu';
beforeAll(async () => { await initBackend('wasm', true); });
it('diag', () => {
  for (const camera of [{ exposure: 1000, gain: 0.01, shotNoise: true, readNoiseStd: 1, quantize: true }, { exposure: 1000, gain: 0.01, readNoiseStd: 1 }, { exposure: 1000, gain: 0.01, readNoiseStd: 1, quantize: true, bitDepth: 16 }]) {
  const n = 16, m = 64;
  const opu = new OpticalProcessingUnit({ inFeatures: n, outFeatures: m, mode: 'physical', seed: 1, camera });
  const { real, imag } = opu.transmission.toArrays();
  for (const q of [1024, 4096, 16384]) {
    const est = opu.estimateFromQueries(q, 2, { method: 'anchored' });
    const errs: number[] = [];
    for (let j = 0; j < m; j++) {
      let num = 0, den = 0;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) {
        const t = 10 * (real[a*m+j]*real[b*m+j] + imag![a*m+j]*imag![b*m+j]);
        const e = est.factors[0][a*m+j]*est.factors[0][b*m+j] + est.factors[1][a*m+j]*est.factors[1][b*m+j];
        num += (t-e)**2; den += t*t;
      }
      errs.push(Math.sqrt(num/den));
    }
    const sorted = errs.map((e, j) => [e, j]).sort((a, b) => b[0] - a[0]);
    console.log(JSON.stringify(camera).slice(0, 60), q, 'median', sorted[m/2][0].toFixed(3), 'worst', sorted.slice(0, 5).map(([e, j]) => `${j}:${e.toFixed(2)}`).join(' '));
  }
  opu.dispose();
  }
});
