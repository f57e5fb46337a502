/**
 * A small, fast, seedable normal generator for bulk matrix generation (tens of millions of draws).
 * seedrandom's ARC4 (src/util/rng.ts) is the project's generator for everything else; for the fixed
 * random matrices we need ~10x its throughput, so each COLUMN of a matrix gets its own sfc32 stream
 * (Doty-Humphrey's Small Fast Counting generator), seeded by hashing (base seed, column index) with
 * splitmix32. Column streams make the matrix independent of how columns are grouped into blocks.
 * Normals use the Ziggurat method (Marsaglia & Tsang 2000, 128 layers, with the layer index drawn from
 * separate bits as Doornik 2005 recommends): ~99% of draws need no transcendental function, which matters
 * because Math.log/cos are slow inside jest's VM contexts (~10x).
 */

const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const M31 = 2147483648;
const KN = new Float64Array(128);
const WN = new Float64Array(128);
const FN = new Float64Array(128);
(function buildZigguratTables(): void {
  let dn = ZIG_R;
  let tn = dn;
  const q = ZIG_V / Math.exp(-0.5 * dn * dn);
  KN[0] = Math.floor((dn / q) * M31);
  KN[1] = 0;
  WN[0] = q / M31;
  WN[127] = dn / M31;
  FN[0] = 1;
  FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = Math.floor((dn / tn) * M31);
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / M31;
  }
})();

/** splitmix32 finalizer: a well-mixed 32-bit hash of a 32-bit integer. */
function mix32(z: number): number {
  z = (z + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A standard-normal stream (sfc32 + Box-Muller, both outputs used). */
export class NormalStream {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  /** `seed` and `stream` are 32-bit integers; (seed, stream) pairs give independent sequences. */
  constructor(seed: number, stream: number) {
    const s0 = mix32(seed ^ 0x5bd1e995);
    this.a = mix32(s0 ^ stream);
    this.b = mix32(this.a ^ 0x27d4eb2f);
    this.c = mix32(this.b ^ (stream * 0x165667b1));
    for (let i = 0; i < 12; i++) this.next32();
  }

  /** Next 32-bit unsigned integer (sfc32). */
  next32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in the open interval (0, 1). */
  uniformOpen(): number {
    return (this.next32() + 0.5) / 4294967296;
  }

  /** Standard normal draw (Ziggurat). */
  normal(): number {
    for (;;) {
      const hz = this.next32() | 0;
      const iz = this.next32() & 127;
      const ahz = hz < 0 ? -hz : hz;
      if (ahz < KN[iz]) return hz * WN[iz];
      if (iz === 0) {
        // Tail beyond R (Marsaglia's exponential rejection).
        let x: number;
        let y: number;
        do {
          x = -Math.log(this.uniformOpen()) / ZIG_R;
          y = -Math.log(this.uniformOpen());
        } while (y + y < x * x);
        return hz > 0 ? ZIG_R + x : -ZIG_R - x;
      }
      const x = hz * WN[iz];
      if (FN[iz] + this.uniformOpen() * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
    }
  }
}
