/**
 * OCI Object Storage (`oci://n/{namespace}/b/{bucket}/o/{prefix}`) behind the
 * ObjectStore interface, with Oracle's `oci-objectstorage` client. The `auth`
 * parameter picks how requests are signed, with OME's names:
 * - `user_principal`: an OCI config file (`config_file`, default ~/.oci/config;
 *   `profile`, default DEFAULT); the default when that file exists;
 * - `instance_principal`: the instance's certificate from the metadata service;
 * - `security_token`: a session token (`security_token`) with the private key it
 *   was issued for (`private_key` or `private_key_file`) and `region`; or, without
 *   them, a profile made by `oci session authenticate`;
 * - `instance_obo_user`: instance principal acting on behalf of a user, with the
 *   user's delegation token (`delegation_token` or `delegation_token_file`).
 * `endpoint` (or OCI_OBJECT_STORAGE_ENDPOINT) replaces the region's endpoint.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import * as common from 'oci-common';
import { ObjectStorageClient } from 'oci-objectstorage';
import { formatStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import { credential, setting } from './credentials.js';
import type { ObjectStore, ObjectToPut, StoredObject, StoreFactory, StoreOptions } from './object-store.js';
import {
  configError,
  describeError,
  httpStatusOf,
  isRetryable,
  permanentKindOf,
  rethrowAs,
  StorageError,
} from './storage-error.js';
import { digestOf } from './stored-digest.js';

type OciLocation = Extract<StorageLocation, { scheme: 'oci' }>;
type Options = StoreOptions<OciLocation>;

const AUTH_KINDS = ['user_principal', 'instance_principal', 'security_token', 'instance_obo_user'] as const;
type AuthKind = (typeof AUTH_KINDS)[number];
const PAGE_SIZE = 1000;

/** Opens a store; credentials are read and checked on first use (preflight). */
export const createStore: StoreFactory<OciLocation> = async (options) => {
  return new OciStore(formatStorageUri(options.location), options);
};

class OciStore implements ObjectStore {
  private client: Promise<ObjectStorageClient> | null = null;
  private opened: ObjectStorageClient | null = null;

  constructor(
    readonly display: string,
    private readonly options: Options,
  ) {}

  private get location(): OciLocation {
    return this.options.location;
  }

  async preflight(): Promise<void> {
    const client = await this.open();
    try {
      await client.headBucket({ namespaceName: this.location.namespace, bucketName: this.location.bucket });
    } catch (error) {
      const status = httpStatusOf(error);
      if (status === 404) {
        throw configError(
          this.display,
          `bucket "${this.location.bucket}" in namespace "${this.location.namespace}" does not exist or the credentials cannot see it: create it, fix outputLocation.storageUri, or grant the principal access`,
        );
      }
      throw this.failure('preflight', '', error);
    }
  }

  async put(object: ObjectToPut): Promise<void> {
    const client = await this.open();
    await this.call('put', object.key, () =>
      client.putObject({
        ...this.objectRef(object.key),
        // An empty body goes as an empty buffer: a stream of nothing is sent chunked.
        putObjectBody: object.size_bytes === 0 ? Buffer.alloc(0) : createReadStream(object.localPath),
        contentLength: object.size_bytes,
        // Object Storage recomputes the MD5 of what it received and refuses a mismatch.
        contentMD5: object.md5_base64,
        contentType: object.content_type,
        opcMeta: { sha256: object.sha256 },
      }),
    );
  }

  async head(key: string): Promise<StoredObject | null> {
    const client = await this.open();
    try {
      const response = await client.headObject(this.objectRef(key));
      return {
        key,
        size_bytes: Number(response.contentLength ?? 0),
        sha256: digestOf(response.opcMeta?.['opc-meta-sha256']),
      };
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw this.failure('head', key, error);
    }
  }

  async get(key: string, localPath: string): Promise<void> {
    const client = await this.open();
    await this.call('get', key, async () => {
      const response = await client.getObject(this.objectRef(key));
      const body = response.value;
      const stream = body instanceof Readable ? body : Readable.fromWeb(body as ReadableStream);
      await pipeline(stream, createWriteStream(localPath));
    });
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const client = await this.open();
    const base = this.objectName('');
    const out: StoredObject[] = [];
    let start: string | undefined;
    do {
      const response = await this.call('list', prefix, () =>
        client.listObjects({
          namespaceName: this.location.namespace,
          bucketName: this.location.bucket,
          prefix: base + prefix,
          fields: 'size',
          limit: PAGE_SIZE,
          start,
        }),
      );
      for (const object of response.listObjects.objects) {
        out.push({ key: object.name.slice(base.length), size_bytes: Number(object.size ?? 0), sha256: null });
      }
      start = response.listObjects.nextStartWith;
    } while (start);
    return out;
  }

  async close(): Promise<void> {
    // Stops the client's circuit breaker, whose timers would keep the process alive.
    this.opened?.close();
    this.opened = null;
    this.client = null;
  }

  private objectName(key: string): string {
    return this.location.prefix ? `${this.location.prefix}/${key}` : key;
  }

  private objectRef(key: string): { namespaceName: string; bucketName: string; objectName: string } {
    return {
      namespaceName: this.location.namespace,
      bucketName: this.location.bucket,
      objectName: this.objectName(key),
    };
  }

  /** The client, built once; a failure is not kept, so a later call tries again. */
  private open(): Promise<ObjectStorageClient> {
    if (!this.client) {
      this.client = buildClient(this.options, this.display).then(
        (client) => (this.opened = client),
        (error: unknown) => {
          this.client = null;
          throw error;
        },
      );
    }
    return this.client;
  }

  private call<T>(op: string, key: string, action: () => Promise<T>): Promise<T> {
    return rethrowAs(action, (error) => this.failure(op, key, error));
  }

  private failure(op: string, key: string, error: unknown): StorageError {
    const status = httpStatusOf(error);
    if (status === 401 || status === 403) {
      return configError(
        this.display,
        `OCI refused the credentials (${status}): check parameters.auth and its credentials, and that the principal may write to bucket "${this.location.bucket}"`,
      );
    }
    const what = key ? `${op} ${key}` : op;
    return new StorageError(`${this.display}: ${what}: ${describeError(error)}`, {
      retryable: isRetryable(error),
      kind: permanentKindOf(error),
    });
  }
}

async function buildClient(options: Options, display: string): Promise<ObjectStorageClient> {
  dropSdkFailureNotices();
  const provider = await authProvider(options, display);
  const client = new ObjectStorageClient(
    { authenticationDetailsProvider: provider },
    {
      // One attempt per call: the retry policy (retry-policy.ts) is the only one, for every scheme.
      retryConfiguration: common.NoRetryConfigurationDetails,
      // The SDK's circuit breaker is a second policy: after a few 5xx it fails calls without
      // sending them (EOPENBREAKER), which the retry policy cannot tell from a broken config.
      circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
    },
  );
  const region = setting(options, 'region', ['OCI_REGION']);
  if (region) client.regionId = region;
  const endpoint = setting(options, 'endpoint', ['OCI_OBJECT_STORAGE_ENDPOINT']);
  if (endpoint) client.endpoint = endpoint.replace(/\/+$/, '');
  return client;
}

let noticesDropped = false;

/**
 * oci-common prints a console warning for every failed call before throwing it (a
 * head's expected 404 included; for a failure it would retry, "All retry attempts
 * have exhausted. Total Attempts : 1", though the retry policy goes on); the error
 * reaches the caller anyway, as a StorageError, so those lines are dropped instead
 * of cluttering stderr.
 */
const SDK_FAILURE_NOTICES = [
  'Request cannot be retried. Not Retrying.',
  'All retry attempts have exhausted.',
];

function dropSdkFailureNotices(): void {
  if (noticesDropped) return;
  noticesDropped = true;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    const first = args[0];
    if (typeof first === 'string' && SDK_FAILURE_NOTICES.some((notice) => first.startsWith(notice))) return;
    warn(...args);
  };
}

/** The signing identity for the `auth` parameter; errors say what to set. */
async function authProvider(
  options: Options,
  display: string,
): Promise<common.AuthenticationDetailsProvider> {
  const configFile = setting(options, 'config_file', ['OCI_CONFIG_FILE', 'OCI_CLI_CONFIG_FILE']);
  const defaultConfig = join(options.env['HOME'] ?? homedir(), '.oci', 'config');
  const auth = authKind(
    options,
    display,
    configFile ?? (existsSync(defaultConfig) ? defaultConfig : undefined),
  );
  switch (auth) {
    case 'user_principal':
      return fromConfigFile(options, display, configFile ?? defaultConfig, 'user_principal');
    case 'instance_principal':
      return instancePrincipal(display);
    case 'security_token':
      return securityToken(options, display, configFile ?? defaultConfig);
    case 'instance_obo_user':
      return onBehalfOfUser(options, display, configFile);
  }
}

function authKind(options: Options, display: string, configFile: string | undefined): AuthKind {
  const given = setting(options, 'auth', ['OCI_CLI_AUTH']);
  // The OCI CLI calls user-principal signing `api_key`.
  const auth = given === 'api_key' ? 'user_principal' : given;
  if (auth === undefined) {
    if (configFile) return 'user_principal';
    throw configError(
      display,
      `no OCI credentials: set parameters.auth (${AUTH_KINDS.join(', ')}), or put a config file at ~/.oci/config or in parameters.config_file`,
    );
  }
  if (!(AUTH_KINDS as readonly string[]).includes(auth)) {
    throw configError(display, `parameters.auth: "${auth}" is not one of ${AUTH_KINDS.join(', ')}`);
  }
  return auth as AuthKind;
}

function fromConfigFile(
  options: Options,
  display: string,
  configFile: string,
  auth: AuthKind,
): common.AuthenticationDetailsProvider {
  const profile = setting(options, 'profile', ['OCI_CLI_PROFILE']) ?? 'DEFAULT';
  if (!existsSync(configFile)) {
    throw configError(
      display,
      `auth ${auth}: no OCI config file at ${configFile}: set parameters.config_file`,
    );
  }
  try {
    return auth === 'security_token'
      ? new common.SessionAuthDetailProvider(configFile, profile)
      : new common.ConfigFileAuthenticationDetailsProvider(configFile, profile);
  } catch (error) {
    // The SDK throws plain strings and Errors naming the missing field; neither holds a key.
    throw configError(display, `auth ${auth}: ${configFile} [${profile}]: ${describeError(error)}`);
  }
}

async function instancePrincipal(display: string): Promise<common.AuthenticationDetailsProvider> {
  try {
    return await new common.InstancePrincipalsAuthenticationDetailsProviderBuilder().build();
  } catch (error) {
    throw configError(
      display,
      `auth instance_principal: cannot get the instance's identity from the metadata service (${describeError(error)}): run on an OCI instance in a dynamic group, or choose another parameters.auth`,
    );
  }
}

/**
 * A session token signs as key id `ST$<token>` with the key pair it was issued for
 * (what the Python SDK's SecurityTokenSigner does); oci-common has no provider that
 * takes a raw token, so a small one is built here. Without a token parameter, a
 * config profile written by `oci session authenticate` is used.
 */
function securityToken(
  options: Options,
  display: string,
  configFile: string,
): common.AuthenticationDetailsProvider {
  const token = credential(options, display, 'security_token', ['OCI_SECURITY_TOKEN']);
  if (token === undefined) return fromConfigFile(options, display, configFile, 'security_token');
  const privateKey = credential(options, display, 'private_key', ['OCI_PRIVATE_KEY']);
  const regionId = setting(options, 'region', ['OCI_REGION']);
  if (privateKey === undefined || regionId === undefined) {
    throw configError(
      display,
      'auth security_token: with parameters.security_token, also set parameters.private_key (or private_key_file: the key the session was issued for) and parameters.region',
    );
  }
  const passphrase = credential(options, display, 'private_key_passphrase') ?? null;
  return new SecurityTokenProvider(token, privateKey, passphrase, region(regionId));
}

class SecurityTokenProvider implements common.AuthenticationDetailsProvider, common.RegionProvider {
  constructor(
    private readonly token: string,
    private readonly privateKey: string,
    private readonly passphrase: string | null,
    private readonly regionValue: common.Region,
  ) {}
  async getKeyId(): Promise<string> {
    return `ST$${this.token}`;
  }
  getPrivateKey(): string {
    return this.privateKey;
  }
  getPassphrase(): string | null {
    return this.passphrase;
  }
  getRegion(): common.Region {
    return this.regionValue;
  }
}

/**
 * On behalf of a user: oci-common signs as the instance principal and adds the
 * user's delegation token (`opc-obo-token`) when a provider's auth type is
 * `instance_principal` and it carries a delegation token (OCI Cloud Shell's setup).
 * A config file with `authentication_type=instance_principal` and
 * `delegation_token_file` works the same way.
 */
function onBehalfOfUser(
  options: Options,
  display: string,
  configFile: string | undefined,
): common.AuthenticationDetailsProvider {
  const token = credential(options, display, 'delegation_token', ['OCI_DELEGATION_TOKEN']);
  if (token === undefined) {
    if (configFile) return fromConfigFile(options, display, configFile, 'instance_obo_user');
    throw configError(
      display,
      'auth instance_obo_user: set parameters.delegation_token (or delegation_token_file), or parameters.config_file with authentication_type=instance_principal and delegation_token_file',
    );
  }
  const regionId = setting(options, 'region', ['OCI_REGION']);
  return new common.SimpleAuthenticationDetailsProvider(
    '',
    '',
    '',
    '',
    null,
    regionId ? region(regionId) : undefined,
    'instance_principal',
    token,
  );
}

/** A region by id; one this SDK version does not know is taken to be in the commercial realm. */
function region(regionId: string): common.Region {
  return common.Region.fromRegionId(regionId) ?? common.Region.register(regionId, common.Realm.OC1);
}
