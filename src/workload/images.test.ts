// Tests for the synthetic PNGs: header fields, chunk CRCs, the inflated pixel data, seeding.
import { inflateSync } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, crc32Portable, makePng, makePngDataUrl } from './images.js';

interface Chunk {
  type: string;
  data: Buffer;
  crc: number;
}

function readChunks(png: Buffer): Chunk[] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    const crc = png.readUInt32BE(at + 8 + length);
    assert.equal(crc32Portable(png.subarray(at + 4, at + 8 + length)), crc, `${type} CRC`);
    chunks.push({ type, data, crc });
    at += 12 + length;
  }
  return chunks;
}

test('CRC-32 matches the standard check value with both implementations', () => {
  const check = Buffer.from('123456789');
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32Portable(check), 0xcbf43926);
  assert.equal(crc32Portable(new Uint8Array(0)), 0);
});

test('the PNG decodes back: IHDR width/height, valid CRCs, IDAT inflates to the raw rows', () => {
  for (const [w, h] of [
    [1, 1],
    [17, 5],
    [64, 48],
    [300, 200],
  ] as const) {
    const png = makePng(w, h, 123);
    const chunks = readChunks(png);
    assert.deepEqual(
      chunks.map((c) => c.type),
      ['IHDR', 'IDAT', 'IEND'],
    );
    const ihdr = chunks[0]!.data;
    assert.equal(ihdr.readUInt32BE(0), w);
    assert.equal(ihdr.readUInt32BE(4), h);
    assert.deepEqual([...ihdr.subarray(8)], [8, 2, 0, 0, 0]);
    const raw = inflateSync(chunks[1]!.data);
    assert.equal(raw.length, h * (1 + 3 * w));
    for (let y = 0; y < h; y++) assert.equal(raw[y * (1 + 3 * w)], 0, 'filter byte');
  }
});

test('content is seeded: same seed identical, different seed different', () => {
  assert.deepEqual(makePng(32, 32, 1), makePng(32, 32, 1));
  assert.notDeepEqual(makePng(32, 32, 1), makePng(32, 32, 2));
  const url = makePngDataUrl(8, 8, 3);
  assert.match(url, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
  assert.deepEqual(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'), makePng(8, 8, 3));
});

test('bad sizes are rejected', () => {
  assert.throws(() => makePng(0, 10, 1), RangeError);
  assert.throws(() => makePng(10, 1.5, 1), RangeError);
  assert.throws(() => makePng(100000, 10, 1), RangeError);
});
