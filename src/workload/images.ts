/**
 * Synthetic images for I(w,h[,n]) scenarios: real PNG files (8-bit RGB, zlib via
 * node:zlib, CRC-32 per chunk) with seeded content, as `data:image/png;base64,...`.
 * Content is a seeded gradient overlaid with seeded 16×16-pixel block noise, so every
 * seed gives a different image (servers cache images by hash) while it is quick to
 * make and deflates well (a vision encoder's cost depends on the pixel size, not the content).
 */
import * as zlib from 'node:zlib';
import { Prng } from '../base/prng.js';

/** Side of the square blocks of seeded noise. */
const BLOCK_PX = 16;

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** Largest side accepted; 8192² RGB is 192 MiB raw, beyond any vision encoder's input. */
export const MAX_IMAGE_SIDE_PX = 8192;

let crcTable: Uint32Array | undefined;

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * CRC-32 (ISO-HDLC, as PNG uses). node:zlib has `crc32` from Node 20.15/22.2; the table
 * version keeps older Node 20 releases working.
 */
export function crc32(data: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(data) >>> 0 : crc32Portable(data);
}

/** Table-driven CRC-32, the fallback for Node without `zlib.crc32`. */
export function crc32Portable(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  // The CRC covers the type and the data, not the length.
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG bytes of a `widthPx`×`heightPx` RGB image whose content is a pure function of `seed`. */
export function makePng(widthPx: number, heightPx: number, seed: number): Buffer {
  for (const [name, value] of [
    ['width', widthPx],
    ['height', heightPx],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_IMAGE_SIDE_PX) {
      throw new RangeError(`image ${name} must be an integer in [1, ${MAX_IMAGE_SIDE_PX}], got ${value}`);
    }
  }
  const rng = new Prng(seed | 0, 0x1ca6e, widthPx, heightPx);
  const base = [rng.nextU32() & 0xff, rng.nextU32() & 0xff, rng.nextU32() & 0xff];
  const slopeX = [rng.intInclusive(-3, 3), rng.intInclusive(-3, 3), rng.intInclusive(-3, 3)];
  const slopeY = [rng.intInclusive(-3, 3), rng.intInclusive(-3, 3), rng.intInclusive(-3, 3)];
  const stride = 1 + widthPx * 3;
  const raw = Buffer.alloc(stride * heightPx);
  // Rows inside one band of BLOCK_PX rows are identical, so each band is computed once and
  // copied: generation stays O(width·height/BLOCK_PX) and deflate finds long matches.
  for (let band = 0; band * BLOCK_PX < heightPx; band++) {
    const y0 = band * BLOCK_PX;
    const row = y0 * stride;
    raw[row] = 0; // filter type: none
    let noise = [0, 0, 0];
    for (let x = 0; x < widthPx; x++) {
      if (x % BLOCK_PX === 0) noise = [rng.nextU32() & 0x3f, rng.nextU32() & 0x3f, rng.nextU32() & 0x3f];
      const at = row + 1 + x * 3;
      for (let c = 0; c < 3; c++) {
        raw[at + c] = (base[c]! + slopeX[c]! * x + slopeY[c]! * y0 + noise[c]!) & 0xff;
      }
    }
    const rows = Math.min(BLOCK_PX, heightPx - y0);
    for (let r = 1; r < rows; r++) raw.copy(raw, row + r * stride, row, row + stride);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(widthPx, 0);
  header.writeUInt32BE(heightPx, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: truecolour RGB
  // compression, filter and interlace methods: 0 (the only defined / none)
  const idat = zlib.deflateSync(raw, { level: 1 });
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** A seeded PNG as a data URL, ready for an OpenAI `image_url` content part. */
export function makePngDataUrl(widthPx: number, heightPx: number, seed: number): string {
  return `data:image/png;base64,${makePng(widthPx, heightPx, seed).toString('base64')}`;
}
