/**
 * The sha256 an object carries in its store's metadata, written and read back the
 * same way by every scheme, and the size check every `put` makes before it sends a
 * file: the digests in an ObjectToPut were taken before the bytes are read again.
 */
import type { ObjectToPut } from './object-store.js';
import { StorageError } from './storage-error.js';

/** Metadata holds the bare hex (the key already says sha256); `sha256:<hex>` is also read back. */
export function hexOf(sha256: string): string {
  return sha256.startsWith('sha256:') ? sha256.slice('sha256:'.length) : sha256;
}

/** `sha256:<hex>` from a metadata value (bare hex or `sha256:<hex>`), or null when it holds no sha256. */
export function digestOf(metadata: unknown): string | null {
  if (typeof metadata !== 'string') return null;
  const hex = hexOf(metadata.trim()).toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : null;
}

/** The file changed after its digests were taken: sending it would store bytes the manifest does not describe. */
export function checkSize(display: string, object: ObjectToPut, actual: number): void {
  if (actual === object.size_bytes) return;
  throw new StorageError(
    `${display}: ${object.key}: ${object.localPath} is ${actual} bytes, but its digests were taken over ${object.size_bytes}`,
    { retryable: false },
  );
}
