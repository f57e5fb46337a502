/**
 * A small, fast, seedable normal generator for bulk matrix generation (tens of millions of draws).
 * seedrandom's ARC4 (src/util/rng.ts) is the project's generator for everything else; for the fixed
 * random matrices we need ~10x its throughput, so each COLUMN of a matrix gets its own sfc32 stream
 * (Doty-Humphrey's Small Fast Counting generator), seeded by hashing (base seed, column index) with
 * splitmix32. Column streams make the matrix independent of how columns are grouped into blocks.
 */

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
  private spare = 0;
  private hasSpare = false;

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

  /** Standard normal draw. */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniformOpen()));
    const theta = 2 * Math.PI * this.uniformOpen();
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }
}
