/**
 * Google Cloud Storage (`gs://bucket/prefix`) behind the ObjectStore interface, with
 * the official `@google-cloud/storage` client. Credentials: `gcp_credentials_path`
 * (a service-account key file, or GOOGLE_APPLICATION_CREDENTIALS), else application
 * default credentials. `gcp_endpoint` (or STORAGE_EMULATOR_HOST) points the client at
 * an emulator, which takes no credentials.
 */
import { Storage, type Bucket, type FileMetadata, type UploadOptions } from '@google-cloud/storage';
import { formatStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import { setting } from './credentials.js';
import type { ObjectStore, ObjectToPut, StoredObject, StoreFactory, StoreOptions } from './object-store.js';
import { ATTEMPT_TIMEOUTS } from './attempt-deadline.js';
import {
  configError,
  describeError,
  errorCode,
  httpStatusOf,
  isRetryable,
  permanentKindOf,
  rethrowAs,
  StorageError,
} from './storage-error.js';
import { digestOf } from './stored-digest.js';

type GsLocation = Extract<StorageLocation, { scheme: 'gs' }>;

// Google's advice: one multipart request for small objects, a resumable session above ~5 MB.
const RESUMABLE_ABOVE_BYTES = 5 * 1024 * 1024;
const PAGE_SIZE = 1000;

/** Opens a store on `gs://bucket/prefix`; nothing is sent until the first call. */
export const createStore: StoreFactory<GsLocation> = async (options) => {
  const display = formatStorageUri(options.location);
  const config = clientConfig(options);
  const storage = new Storage(config.storage);
  if (config.endpoint) {
    // The client takes STORAGE_EMULATOR_HOST from process.env verbatim as its base URL;
    // pinning it keeps the endpoint the job names, in the form every GCS emulator serves.
    storage.baseUrl = `${config.endpoint}/storage/v1`;
  }
  return new GcsStore(display, options.location, storage, config.credentialsPath, config.endpoint);
};

interface ClientConfig {
  storage: ConstructorParameters<typeof Storage>[0];
  endpoint: string | undefined;
  credentialsPath: string | undefined;
}

function clientConfig(options: StoreOptions<GsLocation>): ClientConfig {
  const projectId = setting(options, 'gcp_project_id', ['GOOGLE_CLOUD_PROJECT']);
  const credentialsPath = setting(options, 'gcp_credentials_path', ['GOOGLE_APPLICATION_CREDENTIALS']);
  const rawEndpoint = setting(options, 'gcp_endpoint', ['STORAGE_EMULATOR_HOST']);
  const endpoint = rawEndpoint ? normalizeEndpoint(rawEndpoint) : undefined;
  return {
    endpoint,
    credentialsPath,
    storage: {
      ...(projectId ? { projectId } : {}),
      ...(credentialsPath ? { keyFilename: credentialsPath } : {}),
      ...(endpoint
        ? { apiEndpoint: endpoint, useAuthWithCustomEndpoint: credentialsPath !== undefined }
        : {}),
      // One attempt per call: the retry policy (retry-policy.ts) is the only one, for every scheme.
      retryOptions: { autoRetry: false },
      // Per request, until the answer's headers (the client's own default is none).
      timeout: ATTEMPT_TIMEOUTS.idleMs,
    },
  };
}

/** `localhost:4443`, `http://h:p/`, `http://h:p/storage/v1` → `http://h:p`. */
function normalizeEndpoint(endpoint: string): string {
  const withScheme = /^https?:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
  return withScheme.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
}

class GcsStore implements ObjectStore {
  private readonly bucket: Bucket;

  constructor(
    readonly display: string,
    private readonly location: GsLocation,
    storage: Storage,
    private readonly credentialsPath: string | undefined,
    private readonly endpoint: string | undefined,
  ) {
    this.bucket = storage.bucket(location.bucket);
  }

  async preflight(): Promise<void> {
    let exists: boolean;
    try {
      [exists] = await this.bucket.exists();
    } catch (error) {
      throw this.accessError(error);
    }
    if (!exists) {
      throw configError(
        this.display,
        `bucket "${this.location.bucket}" does not exist: create it or fix outputLocation.storageUri`,
      );
    }
  }

  async put(object: ObjectToPut): Promise<void> {
    const options: UploadOptions = {
      destination: this.objectName(object.key),
      resumable: object.size_bytes > RESUMABLE_ABOVE_BYTES,
      // The client hashes what it sent and compares with what GCS stored; GCS itself
      // refuses the bytes when the declared md5Hash does not match.
      validation: 'md5',
      metadata: {
        contentType: object.content_type,
        md5Hash: object.md5_base64,
        metadata: { sha256: object.sha256 },
      },
    };
    await this.call('put', object.key, () => this.bucket.upload(object.localPath, options));
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      const [metadata] = await this.bucket.file(this.objectName(key)).getMetadata();
      return toStored(key, metadata);
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw this.failure('head', key, error);
    }
  }

  async get(key: string, localPath: string): Promise<void> {
    await this.call('get', key, () =>
      this.bucket.file(this.objectName(key)).download({ destination: localPath }),
    );
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const base = this.objectName('');
    const out: StoredObject[] = [];
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.call('list', prefix, () =>
        this.bucket.getFiles({
          prefix: base + prefix,
          autoPaginate: false,
          maxResults: PAGE_SIZE,
          pageToken,
        }),
      );
      for (const file of files) {
        // Consoles create `folder/` placeholder objects; they are not part of a run.
        if (!file.name.endsWith('/')) out.push(toStored(file.name.slice(base.length), file.metadata));
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    return out;
  }

  async close(): Promise<void> {
    // The client holds no connections of its own beyond Node's pooled agent.
  }

  private objectName(key: string): string {
    return this.location.prefix ? `${this.location.prefix}/${key}` : key;
  }

  private call<T>(op: string, key: string, action: () => Promise<T>): Promise<T> {
    return rethrowAs(action, (error) => this.failure(op, key, error));
  }

  private failure(op: string, key: string, error: unknown): StorageError {
    const status = httpStatusOf(error);
    if (status === 401 || status === 403 || isCredentialProblem(error)) return this.accessError(error);
    return new StorageError(`${this.display}: ${op} ${key}: ${describeError(error)}`, {
      retryable: isRetryable(error),
      kind: permanentKindOf(error),
    });
  }

  /** Missing, unreadable or refused credentials, in words that say what to set. */
  private accessError(error: unknown): StorageError {
    const status = httpStatusOf(error);
    if (status === 401 || status === 403) {
      return configError(
        this.display,
        `Google Cloud refused the credentials (${status}): set parameters.gcp_credentials_path (or GOOGLE_APPLICATION_CREDENTIALS) to a service-account key that can write to bucket "${this.location.bucket}"`,
      );
    }
    if (errorCode(error) === 'ENOENT' && this.credentialsPath) {
      return configError(
        this.display,
        `parameters.gcp_credentials_path: cannot read ${this.credentialsPath}`,
      );
    }
    if (isCredentialProblem(error)) {
      return configError(
        this.display,
        'no Google Cloud credentials: set parameters.gcp_credentials_path (or GOOGLE_APPLICATION_CREDENTIALS), or run where application default credentials exist',
      );
    }
    // One line a user can act on: where, which bucket, why; not the client's FetchError with its URL.
    const where = this.endpoint ? ` at ${originOf(this.endpoint)}` : '';
    return new StorageError(
      `${this.display}: preflight of bucket "${this.location.bucket}" failed (Cloud Storage${where}): ${shortReason(error)}`,
      { retryable: isRetryable(error) },
    );
  }
}

function toStored(key: string, metadata: FileMetadata): StoredObject {
  return {
    key,
    size_bytes: Number(metadata.size ?? 0),
    sha256: digestOf(metadata.metadata?.['sha256']),
  };
}

/** Why a request failed, in a few words: an HTTP status, a socket error by name, or the cause's first line. */
export function shortReason(error: unknown): string {
  const status = httpStatusOf(error);
  if (status !== null) return `HTTP ${status}`;
  const code = innermostCode(error);
  const words = code === undefined ? undefined : SOCKET_ERRORS[code];
  if (words !== undefined) return `${words} (${code})`;
  const text = describeError(error);
  if (/invalid json response body/i.test(text))
    return 'the answer is not Cloud Storage JSON (is the endpoint a GCS API?)';
  // `request to <url> failed, reason: <why>`: the reason is the news, the URL is already said.
  const reason = /reason: (.*)$/.exec(text)?.[1] ?? text;
  const short = reason.replace(/https?:\/\/\S+/g, '<url>');
  return short.length > 200 ? `${short.slice(0, 200)}…` : short;
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate is for another host',
};

/** The error code nearest the socket: on the error, or on what it wraps. */
function innermostCode(error: unknown): string | undefined {
  let found: string | undefined;
  let cur: unknown = error;
  for (let depth = 0; depth < 5 && cur !== null && typeof cur === 'object'; depth++) {
    found = errorCode(cur) ?? found;
    const message = (cur as { message?: unknown }).message;
    if (found === undefined && typeof message === 'string') found = /\b(E[A-Z_]{3,})\b/.exec(message)?.[1];
    cur = (cur as { cause?: unknown }).cause;
  }
  return found;
}

/** An endpoint's scheme, host and port: never a userinfo or query it may carry. */
function originOf(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'the configured endpoint';
  }
}

function isCredentialProblem(error: unknown): boolean {
  return /default credentials|could not load the credentials|invalid_grant/i.test(describeError(error));
}
