/**
 * Digests of record: sha256 over canonical JSON (keys sorted, no whitespace), so the
 * same logical content always has the same digest whatever order it was built in.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** JSON with object keys sorted recursively; `undefined` members are dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}

/** `sha256:<hex>` of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Digest of a value's canonical JSON. */
export function digestOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

export interface FileDigests {
  size_bytes: number;
  /** `sha256:<hex>`. */
  sha256: string;
  /** Base64 MD5, what object stores check on arrival (Content-MD5); empty unless asked for. */
  md5_base64: string;
  /** `\n` bytes in the file: a records file's line count, for free while hashing. */
  newlines: number;
}

/** Size, sha256, newline count and (with `md5`) MD5 of a file in one streamed read. */
export async function digestFile(path: string, options: { md5?: boolean } = {}): Promise<FileDigests> {
  const sha = createHash('sha256');
  const md5 = options.md5 ? createHash('md5') : null;
  let size = 0;
  let newlines = 0;
  // 1 MiB reads: hashing, not the syscalls, should be the cost of verifying a large records file.
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const bytes = chunk as Buffer;
    sha.update(bytes);
    md5?.update(bytes);
    size += bytes.length;
    for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) newlines++;
  }
  return {
    size_bytes: size,
    sha256: `sha256:${sha.digest('hex')}`,
    md5_base64: md5 ? md5.digest('base64') : '',
    newlines,
  };
}
