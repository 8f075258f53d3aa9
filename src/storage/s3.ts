/**
 * The `s3://bucket[@region]/prefix` store: AWS S3 and the S3-compatible services
 * (MinIO, Ceph, s3rver) through @aws-sdk/client-s3, loaded only when an s3:// URI
 * is used (`registry.ts`). The SDK retries nothing (`retry-policy.ts` retries for
 * every scheme); a file above MULTIPART_THRESHOLD_BYTES goes as a multipart upload
 * of PART_SIZE_BYTES parts, so memory stays bounded whatever the file's size.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { redactUrl } from '../base/redact.js';
import { formatStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import { credential, setting } from './credentials.js';
import type { ObjectStore, ObjectToPut, StoredObject, StoreFactory, StoreOptions } from './object-store.js';
import { ATTEMPT_TIMEOUTS } from './attempt-deadline.js';
import {
  configError,
  describeError,
  errorCode,
  httpStatusOf,
  isRetryable,
  StorageError,
} from './storage-error.js';
import { checkSize, digestOf, hexOf } from './stored-digest.js';

type S3Location = Extract<StorageLocation, { scheme: 's3' }>;

/** Above this a file is sent in parts (S3 allows 5 GiB in one PUT, but then it would sit in memory). */
export const MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;
/** S3's minimum part size is 5 MiB; 8 MiB is what the AWS CLI uses. */
export const PART_SIZE_BYTES = 8 * 1024 * 1024;
const DEFAULT_REGION = 'us-east-1';
const CREDENTIALS_HINT =
  'set parameters.aws_access_key_id and aws_secret_access_key (or their _file forms), parameters.aws_profile, ' +
  'or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables';

/**
 * The SDK's documented switch for its nine-line notice that its releases after January
 * 2027 need Node 22 (printed on every command on Node 20, which infermark supports).
 * Only that notice: other warnings still show, and a value the user set is kept.
 */
const NODE_VERSION_NOTICE_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** Builds the store; a configuration that cannot work (half a key pair, a bad endpoint) fails here. */
export const createStore: StoreFactory<S3Location> = async (options) => {
  const display = formatStorageUri(options.location);
  const config = clientConfig(options, display);
  // Read when the client is constructed, so set before it.
  process.env[NODE_VERSION_NOTICE_SWITCH] ??= 'true';
  return new S3Store(new S3Client(config), options.location, display, config);
};

/** The SDK client's settings from parameters and environment (see the seed's "AWS Authentication"). */
function clientConfig(options: StoreOptions<S3Location>, display: string): S3ClientConfig {
  const endpoint = endpointUrl(options, display);
  const config: S3ClientConfig = {
    region: regionOf(options),
    // One attempt per call: the retry policy (retry-policy.ts) is the only one, for every scheme.
    maxAttempts: 1,
    // The SDK's defaults wait forever on a connection that hangs.
    requestHandler: {
      connectionTimeout: ATTEMPT_TIMEOUTS.connectMs,
      socketTimeout: ATTEMPT_TIMEOUTS.idleMs,
    },
    // Newer SDKs otherwise add aws-chunked CRC32 trailers that MinIO versions and s3rver refuse;
    // integrity comes from Content-MD5 (checked by the service) and the stored sha256.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    forcePathStyle: forcePathStyle(options, display, endpoint !== undefined),
  };
  if (endpoint !== undefined) config.endpoint = endpoint;
  const auth = awsAuth(options, display);
  if (auth.kind === 'keys') config.credentials = auth.keys;
  if (auth.kind === 'profile') config.profile = auth.profile;
  return config;
}

/** `aws_region`, else the URI's `@region`, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
function regionOf(options: StoreOptions<S3Location>): string {
  return (
    setting(options, 'aws_region') ??
    options.location.region ??
    envValue(options, ['AWS_REGION', 'AWS_DEFAULT_REGION']) ??
    DEFAULT_REGION
  );
}

function endpointUrl(options: StoreOptions<S3Location>, display: string): string | undefined {
  const endpoint = setting(options, 'aws_endpoint_url', ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL']);
  if (endpoint === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw configError(
      display,
      `aws_endpoint_url: "${redactUrl(endpoint)}" is not a URL (expected http(s)://host[:port])`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError(display, `aws_endpoint_url: expected an http:// or https:// URL, got ${url.protocol}`);
  }
  return endpoint;
}

/** Path-style (`host/bucket/key`) is what MinIO, Ceph and s3rver expect, so it is the default with a custom endpoint. */
function forcePathStyle(
  options: StoreOptions<S3Location>,
  display: string,
  customEndpoint: boolean,
): boolean {
  const value = setting(options, 'aws_force_path_style');
  if (value === undefined) return customEndpoint;
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower === 'true';
  throw configError(display, `parameters.aws_force_path_style: expected "true" or "false", got "${value}"`);
}

type AwsAuth =
  | { kind: 'keys'; keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } }
  | { kind: 'profile'; profile: string }
  | { kind: 'default' };

/**
 * Where the credentials come from: keys in parameters, then a profile in parameters
 * (what the job says beats what the environment happens to hold), then keys and
 * AWS_PROFILE in the environment, then the SDK's default chain (SSO, web identity, IMDS).
 */
function awsAuth(options: StoreOptions<S3Location>, display: string): AwsAuth {
  const fromParameters = keyPair(options, display, false);
  if (fromParameters) return fromParameters;
  const profile = setting(options, 'aws_profile');
  if (profile !== undefined) return { kind: 'profile', profile };
  const fromEnv = keyPair(options, display, true);
  if (fromEnv) return fromEnv;
  // options.env may not be process.env (tests, the controller): pass its profile on explicitly.
  const envProfile = envValue(options, ['AWS_PROFILE']);
  if (envProfile !== undefined) return { kind: 'profile', profile: envProfile };
  return { kind: 'default' };
}

function keyPair(options: StoreOptions<S3Location>, display: string, useEnv: boolean): AwsAuth | null {
  const env = (name: string): string[] => (useEnv ? [name] : []);
  const accessKeyId = credential(options, display, 'aws_access_key_id', env('AWS_ACCESS_KEY_ID'));
  const secretAccessKey = credential(options, display, 'aws_secret_access_key', env('AWS_SECRET_ACCESS_KEY'));
  if (accessKeyId === undefined && secretAccessKey === undefined) return null;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw configError(
      display,
      useEnv
        ? 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together'
        : 'parameters.aws_access_key_id and aws_secret_access_key must be given together',
    );
  }
  const sessionToken = credential(options, display, 'aws_session_token', env('AWS_SESSION_TOKEN'));
  const keys =
    sessionToken === undefined
      ? { accessKeyId, secretAccessKey }
      : { accessKeyId, secretAccessKey, sessionToken };
  return { kind: 'keys', keys };
}

function envValue(options: StoreOptions<S3Location>, names: string[]): string | undefined {
  for (const name of names) {
    const value = options.env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

class S3Store implements ObjectStore {
  private readonly bucket: string;
  /** The location's prefix with its trailing slash, or '' at the bucket's root. */
  private readonly base: string;

  constructor(
    private readonly client: S3Client,
    location: S3Location,
    readonly display: string,
    private readonly config: S3ClientConfig,
  ) {
    this.bucket = location.bucket;
    this.base = location.prefix === '' ? '' : `${location.prefix}/`;
  }

  async preflight(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw preflightError(error, this.display, this.bucket, this.config);
    }
  }

  async put(object: ObjectToPut): Promise<void> {
    if (object.size_bytes > MULTIPART_THRESHOLD_BYTES) return this.putMultipart(object);
    const body = await readFile(object.localPath);
    checkSize(this.display, object, body.length);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.base + object.key,
        Body: body,
        ContentLength: body.length,
        // S3 recomputes the MD5 on arrival and refuses the PUT if the bytes changed in transit.
        ContentMD5: object.md5_base64,
        ContentType: object.content_type,
        Metadata: { sha256: hexOf(object.sha256) },
      }),
    );
  }

  /** Parts carry their own Content-MD5; the whole object's digest travels as the sha256 metadata. */
  private async putMultipart(object: ObjectToPut): Promise<void> {
    const target = { Bucket: this.bucket, Key: this.base + object.key };
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        ...target,
        ContentType: object.content_type,
        Metadata: { sha256: hexOf(object.sha256) },
      }),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) {
      throw new StorageError(`${this.display}: ${object.key}: the service returned no multipart upload id`, {
        retryable: true,
      });
    }
    try {
      const parts = await this.putParts(object, { ...target, UploadId: uploadId });
      await this.client.send(
        new CompleteMultipartUploadCommand({
          ...target,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      // Best effort: an abandoned upload only costs storage, and a bucket lifecycle rule can reap it.
      await this.client
        .send(new AbortMultipartUploadCommand({ ...target, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  private async putParts(
    object: ObjectToPut,
    target: { Bucket: string; Key: string; UploadId: string },
  ): Promise<CompletedPart[]> {
    const file = await open(object.localPath, 'r');
    try {
      const parts: CompletedPart[] = [];
      for (
        let offset = 0, partNumber = 1;
        offset < object.size_bytes;
        offset += PART_SIZE_BYTES, partNumber++
      ) {
        const body = await readPart(this.display, object, file, offset);
        const sent = await this.client.send(
          new UploadPartCommand({
            ...target,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ContentMD5: createHash('md5').update(body).digest('base64'),
          }),
        );
        parts.push({ PartNumber: partNumber, ETag: sent.ETag });
      }
      return parts;
    } finally {
      await file.close();
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.base + key }),
      );
      return { key, size_bytes: head.ContentLength ?? 0, sha256: digestOf(head.Metadata?.sha256) };
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw error;
    }
  }

  async get(key: string, localPath: string): Promise<void> {
    const object = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.base + key }),
    );
    if (!(object.Body instanceof Readable)) {
      throw new StorageError(`${this.display}: ${key}: the response had no body to read`, {
        retryable: true,
      });
    }
    await pipeline(object.Body, createWriteStream(localPath));
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.base + prefix,
          ContinuationToken: token,
        }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined || !item.Key.startsWith(this.base)) continue;
        // Listing carries no user metadata; `head` gives the digest when it is needed.
        objects.push({ key: item.Key.slice(this.base.length), size_bytes: item.Size ?? 0, sha256: null });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** One part of the file, read whole; a file shorter than the manifest says is refused. */
async function readPart(
  display: string,
  object: ObjectToPut,
  file: FileHandle,
  offset: number,
): Promise<Buffer> {
  const length = Math.min(PART_SIZE_BYTES, object.size_bytes - offset);
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) checkSize(display, object, offset + filled);
    filled += bytesRead;
  }
  return buffer;
}

/** What preflight throws: always a StorageError, whose message says what to change. */
function preflightError(
  error: unknown,
  display: string,
  bucket: string,
  config: S3ClientConfig,
): StorageError {
  if (error instanceof StorageError) return error;
  const where = typeof config.endpoint === 'string' ? ` at ${redactUrl(config.endpoint)}` : '';
  if (isCredentialsError(error)) {
    const profile = config.profile === undefined ? '' : ` (profile "${config.profile}")`;
    return configError(display, `no AWS credentials could be loaded${profile}: ${CREDENTIALS_HINT}`);
  }
  const status = httpStatusOf(error);
  switch (status) {
    case 404:
      return configError(display, `bucket ${bucket} does not exist${where}`);
    case 401:
    case 403:
      return configError(
        display,
        `credentials refused (${status}) for bucket ${bucket}${where}: they are wrong or lack s3:ListBucket on it; ${CREDENTIALS_HINT}`,
      );
    case 301:
      return configError(display, `bucket ${bucket} is in another region${regionHint(error, config)}`);
    case 400:
      return configError(
        display,
        `the service refused the request (400) for bucket ${bucket}${where}: check aws_region and aws_endpoint_url`,
      );
  }
  if (errorCode(error) === 'ENOTFOUND') {
    return configError(display, `cannot resolve the service's host${where} (${describeError(error)})`);
  }
  if (isRetryable(error)) {
    return new StorageError(`${display}: cannot reach bucket ${bucket}${where}: ${describeError(error)}`, {
      retryable: true,
    });
  }
  return configError(display, `bucket ${bucket}${where} cannot be used: ${describeError(error)}`);
}

/** The bucket's region as S3 reports it in a redirect, so the message can say what to write. */
function regionHint(error: unknown, config: S3ClientConfig): string {
  const headers = (error as { $response?: { headers?: Record<string, string | undefined> } }).$response
    ?.headers;
  const actual = headers?.['x-amz-bucket-region'];
  const ours = typeof config.region === 'string' ? config.region : 'the configured region';
  if (actual === undefined) return ` than ${ours}: set parameters.aws_region or write s3://bucket@region/...`;
  return ` (${actual}, not ${ours}): write s3://bucket@${actual}/... or set parameters.aws_region: ${actual}`;
}

/** The default chain's "found nothing" and a profile that cannot be loaded both arrive as this. */
function isCredentialsError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { name?: unknown; tryNextLink?: unknown };
  return e.name === 'CredentialsProviderError' || typeof e.tryNextLink === 'boolean';
}
