/**
 * One interface for every place a run folder can be shipped to (OME's
 * `outputLocation`): a flat key space of objects under the URI's prefix. Each
 * scheme is one module behind this interface, loaded only when its scheme is used
 * (`registry.ts`). Uploading, skipping what is already there and verifying
 * (`upload.ts`), and retrying (`retry-policy.ts`) are done once, over this
 * interface, not per scheme: each call on it is one attempt.
 */
import type { StorageLocation } from '../spec/storage-uri.js';

/** An object as the store reports it. */
export interface StoredObject {
  /** Relative to the location's prefix: `<run_id>/iterations/000/requests.jsonl`. */
  key: string;
  size_bytes: number;
  /** `sha256:<hex>` as stored with the object (metadata or the service's own digest), or null if the store has none. */
  sha256: string | null;
}

/** What `put` sends: a local file and the digests already computed for the manifest. */
export interface ObjectToPut {
  key: string;
  localPath: string;
  size_bytes: number;
  /** `sha256:<hex>`; stored with the object so a later `head` can compare it. */
  sha256: string;
  /** Base64 MD5 of the bytes, for stores that check it on arrival (S3 Content-MD5, Azure, GCS). */
  md5_base64: string;
  content_type: string;
}

export interface ObjectStore {
  /** The location in words for messages: the URI, never a credential. */
  readonly display: string;
  /**
   * Checks, before any load is sent, that the location exists and the credentials
   * can write there. Throws a StorageError (config) that says what is missing.
   */
  preflight(): Promise<void>;
  /** Writes one object whole (same key and bytes → same object: puts are idempotent). */
  put(object: ObjectToPut): Promise<void>;
  /** The object's size and digest, or null when there is none. */
  head(key: string): Promise<StoredObject | null>;
  /** Downloads one object to a local file. */
  get(key: string, localPath: string): Promise<void>;
  /** Every object whose key starts with `prefix` (relative keys). */
  list(prefix: string): Promise<StoredObject[]>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** What a scheme's module gets to build its store. */
export interface StoreOptions<L extends StorageLocation = StorageLocation> {
  location: L;
  /** `outputLocation.parameters` as the job gives them (credentials among them). */
  parameters: Record<string, string>;
  /** The environment credentials may come from (process.env in the CLI). */
  env: Record<string, string | undefined>;
}

export type StoreFactory<L extends StorageLocation = StorageLocation> = (
  options: StoreOptions<L>,
) => Promise<ObjectStore>;
