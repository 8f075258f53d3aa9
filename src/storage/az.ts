/**
 * The `az://account/container/prefix` store: Azure Blob Storage (and azurite)
 * through @azure/storage-blob, loaded only when an az:// URI is used
 * (`registry.ts`). Credentials, in order: a connection string, an account key, a
 * SAS token (parameters first, then the environment), else Azure AD when the
 * optional @azure/identity package is installed.
 */
import { stat } from 'node:fs/promises';
import {
  AnonymousCredential,
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { redactUrl } from '../base/redact.js';
import { formatStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import { credential, setting } from './credentials.js';
import { withIdleDeadline } from './attempt-deadline.js';
import type { ObjectStore, ObjectToPut, StoredObject, StoreFactory, StoreOptions } from './object-store.js';
import {
  configError,
  describeError,
  errorCode,
  httpStatusOf,
  isRetryable,
  StorageError,
} from './storage-error.js';
import { checkSize, digestOf, hexOf } from './stored-digest.js';

type AzLocation = Extract<StorageLocation, { scheme: 'az' }>;
/** The shape of @azure/identity's credentials (TokenCredential), declared here because that package is optional. */
interface TokenCredentialLike {
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

const CREDENTIALS_HINT =
  'set parameters.azure_connection_string, azure_account_key, or azure_sas_token (or their _file forms), ' +
  'or the AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN environment variables';

const PIPELINE: StoragePipelineOptions = {
  // One try per call: the retry policy (retry-policy.ts) is the only one, for every scheme.
  retryOptions: { maxTries: 1 },
};

/** Builds the store; a configuration that cannot work (a bad endpoint, no credentials at all) fails here. */
export const createStore: StoreFactory<AzLocation> = async (options) => {
  const display = formatStorageUri(options.location);
  const service = await serviceClient(options, display);
  const where = redactUrl(service.url.split('?')[0] ?? service.url);
  return new AzStore(
    service.getContainerClient(options.location.container),
    options.location,
    display,
    where,
  );
};

type AzureAuth =
  | { kind: 'connection-string'; value: string }
  | { kind: 'key'; key: string }
  | { kind: 'sas'; token: string }
  | { kind: 'azure-ad' };

/** Every parameter first, then the environment: what the job says beats what the host happens to hold. */
function azureAuth(options: StoreOptions<AzLocation>, display: string): AzureAuth {
  for (const useEnv of [false, true]) {
    const env = (name: string): string[] => (useEnv ? [name] : []);
    const connection = credential(
      options,
      display,
      'azure_connection_string',
      env('AZURE_STORAGE_CONNECTION_STRING'),
    );
    if (connection !== undefined) return { kind: 'connection-string', value: connection };
    const key = credential(options, display, 'azure_account_key', env('AZURE_STORAGE_KEY'));
    if (key !== undefined) return { kind: 'key', key };
    const sas = credential(options, display, 'azure_sas_token', env('AZURE_STORAGE_SAS_TOKEN'));
    if (sas !== undefined) return { kind: 'sas', token: sas.replace(/^\?/, '') };
  }
  return { kind: 'azure-ad' };
}

async function serviceClient(options: StoreOptions<AzLocation>, display: string): Promise<BlobServiceClient> {
  const auth = azureAuth(options, display);
  if (auth.kind === 'connection-string') return fromConnectionString(options, display, auth.value);
  const endpoint = blobEndpoint(options, display);
  switch (auth.kind) {
    case 'key':
      return new BlobServiceClient(
        endpoint,
        new StorageSharedKeyCredential(accountName(options, display), auth.key),
        PIPELINE,
      );
    case 'sas':
      return new BlobServiceClient(`${endpoint}?${auth.token}`, new AnonymousCredential(), PIPELINE);
    case 'azure-ad':
      if (endpoint.startsWith('http:')) {
        // The SDK sends no bearer token over plain HTTP (azurite's usual endpoint).
        throw configError(
          display,
          `no credentials for the http:// endpoint ${redactUrl(endpoint)}: ${CREDENTIALS_HINT}`,
        );
      }
      return new BlobServiceClient(endpoint, await azureAdCredential(display), PIPELINE);
  }
}

/** A connection string carries its own endpoint (BlobEndpoint=, or the account's default); it must name the URI's account. */
function fromConnectionString(
  options: StoreOptions<AzLocation>,
  display: string,
  value: string,
): BlobServiceClient {
  let service: BlobServiceClient;
  try {
    service = BlobServiceClient.fromConnectionString(value, PIPELINE);
  } catch {
    // The SDK's message may quote the string; this one says only which parameter is wrong.
    throw configError(display, 'azure_connection_string: not a valid Azure Storage connection string');
  }
  if (service.accountName !== '' && service.accountName !== options.location.account) {
    throw configError(
      display,
      `azure_connection_string is for account ${service.accountName}, but the URI names account ${options.location.account}`,
    );
  }
  return service;
}

/** The name a shared key signs with: `azure_account_name`, which must agree with the URI's account. */
function accountName(options: StoreOptions<AzLocation>, display: string): string {
  const named = setting(options, 'azure_account_name');
  if (named !== undefined && named !== options.location.account) {
    throw configError(
      display,
      `parameters.azure_account_name (${named}) differs from the URI's account (${options.location.account})`,
    );
  }
  return options.location.account;
}

/** `azure_blob_endpoint` (azurite: `http://127.0.0.1:10000/devstoreaccount1`), else the account's public endpoint. */
function blobEndpoint(options: StoreOptions<AzLocation>, display: string): string {
  const custom = setting(options, 'azure_blob_endpoint', ['AZURE_STORAGE_BLOB_ENDPOINT']);
  if (custom === undefined) return `https://${options.location.account}.blob.core.windows.net`;
  let url: URL;
  try {
    url = new URL(custom);
  } catch {
    throw configError(display, `azure_blob_endpoint: "${redactUrl(custom)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError(
      display,
      `azure_blob_endpoint: expected an http:// or https:// URL, got ${url.protocol}`,
    );
  }
  if (url.search !== '' || url.username !== '') {
    throw configError(
      display,
      'azure_blob_endpoint: a SAS token goes in parameters.azure_sas_token, not in the endpoint',
    );
  }
  return custom.replace(/\/+$/, '');
}

/**
 * Azure AD sign-in (managed identity, workload identity, az login) through
 * DefaultAzureCredential. @azure/identity is not a dependency of infermark: it is
 * used when the host installed it, and its absence is said plainly.
 */
async function azureAdCredential(display: string): Promise<TokenCredentialLike> {
  // A variable specifier keeps the compiler from requiring the package's types.
  const specifier = '@azure/identity';
  let identity: { DefaultAzureCredential: new () => TokenCredentialLike };
  try {
    identity = (await import(specifier)) as typeof identity;
  } catch {
    throw configError(
      display,
      `no credentials: ${CREDENTIALS_HINT} (Azure AD sign-in needs the @azure/identity package, which is not installed)`,
    );
  }
  return new identity.DefaultAzureCredential();
}

class AzStore implements ObjectStore {
  /** The location's prefix with its trailing slash, or '' at the container's root. */
  private readonly base: string;

  constructor(
    private readonly container: ContainerClient,
    private readonly location: AzLocation,
    readonly display: string,
    private readonly where: string,
  ) {
    this.base = location.prefix === '' ? '' : `${location.prefix}/`;
  }

  /**
   * Lists at most one blob under the prefix: it fails on a missing container or
   * refused credentials, and unlike the container's properties it is allowed to a
   * container-scoped SAS (the usual least-privilege grant for an upload).
   */
  async preflight(): Promise<void> {
    try {
      await withIdleDeadline(`${this.display}: preflight`, ({ signal }) =>
        this.container
          .listBlobsFlat({ prefix: this.base, abortSignal: signal })
          .byPage({ maxPageSize: 1 })
          .next(),
      );
    } catch (error) {
      throw preflightError(error, this.display, this.location, this.where);
    }
  }

  async put(object: ObjectToPut): Promise<void> {
    const size = (await stat(object.localPath)).size;
    checkSize(this.display, object, size);
    // One Put Blob up to 256 MiB, staged blocks above; a failed try is retried by retry-policy.ts,
    // which calls put again and so re-reads the file.
    await withIdleDeadline(`${this.display}: put ${object.key}`, ({ signal, progress }) =>
      this.container.getBlockBlobClient(this.base + object.key).uploadFile(object.localPath, {
        blobHTTPHeaders: {
          blobContentType: object.content_type,
          blobContentMD5: Buffer.from(object.md5_base64, 'base64'),
        },
        metadata: { sha256: hexOf(object.sha256) },
        abortSignal: signal,
        onProgress: progress,
      }),
    );
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      const properties = await withIdleDeadline(`${this.display}: head ${key}`, ({ signal }) =>
        this.container.getBlobClient(this.base + key).getProperties({ abortSignal: signal }),
      );
      return {
        key,
        size_bytes: properties.contentLength ?? 0,
        sha256: digestOf(properties.metadata?.sha256),
      };
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw error;
    }
  }

  async get(key: string, localPath: string): Promise<void> {
    await withIdleDeadline(`${this.display}: get ${key}`, ({ signal, progress }) =>
      this.container
        .getBlobClient(this.base + key)
        .downloadToFile(localPath, 0, undefined, { abortSignal: signal, onProgress: progress }),
    );
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return withIdleDeadline(`${this.display}: list ${prefix}`, async ({ signal, progress }) => {
      const objects: StoredObject[] = [];
      for await (const blob of this.container.listBlobsFlat({
        prefix: this.base + prefix,
        includeMetadata: true,
        abortSignal: signal,
      })) {
        progress();
        if (!blob.name.startsWith(this.base)) continue;
        objects.push({
          key: blob.name.slice(this.base.length),
          size_bytes: blob.properties.contentLength ?? 0,
          sha256: digestOf(blob.metadata?.sha256),
        });
      }
      return objects;
    });
  }

  async close(): Promise<void> {
    // The SDK keeps no connection of its own to release: its HTTP agent is shared and idles out.
  }
}

/** What preflight throws: always a StorageError, whose message says what to change. */
function preflightError(error: unknown, display: string, location: AzLocation, where: string): StorageError {
  if (error instanceof StorageError) return error;
  if (isAzureAdError(error)) {
    return configError(display, `Azure AD sign-in found no credentials: ${CREDENTIALS_HINT}`);
  }
  const status = httpStatusOf(error);
  const code = errorCode(error);
  if (status === 404) {
    return code === 'ContainerNotFound' || code === undefined
      ? configError(
          display,
          `container ${location.container} does not exist in account ${location.account} (${where})`,
        )
      : configError(display, `${code} (404) at ${where}: check the account name and azure_blob_endpoint`);
  }
  if (status === 401 || status === 403) {
    return configError(
      display,
      `credentials refused (${status}${code ? ` ${code}` : ''}) for container ${location.container} at ${where}: ` +
        `they are wrong, expired, or lack list permission; ${CREDENTIALS_HINT}`,
    );
  }
  if (code === 'ENOTFOUND') {
    return configError(display, `cannot resolve ${where}: is the account name ${location.account} right?`);
  }
  if (isRetryable(error)) {
    return new StorageError(`${display}: cannot reach ${where}: ${describeError(error)}`, {
      retryable: true,
    });
  }
  return configError(
    display,
    `container ${location.container} at ${where} cannot be used: ${describeError(error)}`,
  );
}

/** @azure/identity's failures to obtain a token (no managed identity, no az login). */
function isAzureAdError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return (
    name === 'CredentialUnavailableError' ||
    name === 'AggregateAuthenticationError' ||
    name === 'AuthenticationRequiredError' ||
    name === 'AuthenticationError'
  );
}
