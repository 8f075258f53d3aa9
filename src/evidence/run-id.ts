/**
 * Run identity: UUIDv7 (RFC 9562), time-ordered so run folders sort by start time.
 */
import { randomBytes } from 'node:crypto';

/** A new UUIDv7: 48-bit Unix ms timestamp, version 7, variant 10, 74 random bits. */
export function newRunId(nowMs: number = Date.now()): string {
  const bytes = randomBytes(16);
  let ms = nowMs;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
