/**
 * A minimal PNG encoder (8-bit grayscale / RGB / RGBA, no interlace) on node's zlib, for inline example
 * images in the HTML report. Format: PNG spec (ISO/IEC 15948) — signature, IHDR, one IDAT with every
 * scanline prefixed by filter type 0 (None), IEND; each chunk carries a CRC-32 of its type and data.
 */
import * as zlib from 'zlib';
import { UserError } from '../src/util/errors';

export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** PNG colour types for 1, 3 and 4 channels (grayscale, truecolour, truecolour with alpha). */
const COLOR_TYPE: Record<number, number> = { 1: 0, 3: 2, 4: 6 };

let crcTable: Uint32Array | null = null;

/** CRC-32 (ISO 3309 polynomial 0xEDB88320), as PNG chunks require. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encode `pixels` (row-major, HWC, uint8, `channels` per pixel) as a PNG file.
 * Throws UserError when the buffer size does not match width x height x channels.
 */
export function encodePng(width: number, height: number, channels: 1 | 3 | 4, pixels: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new UserError(`PNG size ${width}x${height}: expected positive integers`);
  }
  if (COLOR_TYPE[channels] === undefined) {
    throw new UserError(`PNG channels ${channels}: expected 1, 3 or 4`);
  }
  const rowBytes = width * channels;
  if (pixels.length !== rowBytes * height) {
    throw new UserError(
      `PNG pixel buffer of ${pixels.length} bytes: expected ${width}x${height}x${channels} = ${rowBytes * height}`,
    );
  }
  const raw = Buffer.alloc((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (rowBytes + 1)] = 0; // filter type None
    Buffer.from(pixels.buffer, pixels.byteOffset + y * rowBytes, rowBytes).copy(raw, y * (rowBytes + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels];
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering (per-row filter byte)
  ihdr[12] = 0; // no interlace
  return Buffer.concat([
    Buffer.from(PNG_SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** `data:image/png;base64,...` for an <img src>. */
export function pngDataUri(png: Uint8Array): string {
  return 'data:image/png;base64,' + Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64');
}

/** Nearest-neighbour upscaling of an HWC uint8 image by an integer factor (32x32 thumbnails are tiny). */
export function upscaleNearest(
  width: number,
  height: number,
  channels: number,
  pixels: Uint8Array,
  factor: number,
): Uint8Array {
  const w2 = width * factor;
  const out = new Uint8Array(w2 * height * factor * channels);
  for (let y = 0; y < height * factor; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < w2; x++) {
      const sx = Math.floor(x / factor);
      const src = (sy * width + sx) * channels;
      const dst = (y * w2 + x) * channels;
      for (let c = 0; c < channels; c++) out[dst + c] = pixels[src + c];
    }
  }
  return out;
}
