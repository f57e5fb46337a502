import { initBackend } from '../src/backend';
import { measureSysidQuality } from '../src/optics/sysid-quality';
beforeAll(async () => { await initBackend('wasm', true); });
const noisy = { exposure: 1000, gain: 0.01, shotNoise: true, readNoiseStd: 1, quantize: true };
it('table', () => {
  const lines: string[] = [];
  const cfgs: [number, number, 'physical' | 'reference', 'lifted' | 'anchored', number[], boolean][] = [
    [16, 64, 'physical', 'lifted', [100, 150, 300], false],
    [16, 64, 'physical', 'lifted', [300, 1200, 4800], true],
    [16, 64, 'physical', 'anchored', [128, 256, 512], false],
    [16, 64, 'physical', 'anchored', [256, 1024, 4096], true],
    [16, 64, 'reference', 'lifted', [100, 150, 300], false],
    [16, 64, 'reference', 'lifted', [300, 1200, 4800], true],
    [16, 64, 'reference', 'anchored', [128, 256, 512], false],
    [16, 64, 'reference', 'anchored', [256, 1024, 4096], true],
    [64, 128, 'physical', 'lifted', [1000, 2100, 4200], false],
    [64, 128, 'physical', 'anchored', [512, 1024, 2048], false],
    [64, 128, 'physical', 'anchored', [1024, 4096, 16384], true],
    [64, 128, 'reference', 'anchored', [512, 1024, 2048], false],
    [64, 128, 'reference', 'anchored', [1024, 4096, 16384], true],
    [512, 256, 'physical', 'anchored', [4096, 8192, 16384], false],
    [512, 256, 'physical', 'anchored', [16384, 65536], true],
    [512, 256, 'reference', 'anchored', [4096, 8192, 16384], false],
    [512, 256, 'reference', 'anchored', [16384, 65536], true],
  ];
  for (const [n, m, mode, method, qs, isNoisy] of cfgs) {
    const rows = measureSysidQuality({ inFeatures: n, outFeatures: m, mode, seed: 1, method, queryCounts: qs, samples: 32, camera: isNoisy ? noisy : undefined });
    for (const r of rows) lines.push(`| ${n} | ${m} | ${mode} | ${method} | ${isNoisy ? 'noisy 8-bit' : 'ideal'} | ${r.queries} | ${r.meanCosine.toFixed(4)} | ${r.minCosine.toFixed(4)} | ${r.seconds.toFixed(1)} |`);
    console.log(lines.slice(-rows.length).join('\n'));
  }
});
