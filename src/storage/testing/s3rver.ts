/**
 * s3rver (the S3 wire protocol over a folder) on loopback, for tests that need an
 * S3 endpoint. It runs as a child process with OpenSSL's legacy provider: s3rver
 * encrypts ListObjectsV2 continuation tokens with DES, which Node 17+ refuses
 * otherwise, so pagination would fail with a 500. The data folder outlives
 * `stop()`: a test can take the server down mid-upload and `restart()` it on the
 * same port with the same objects; `dispose()` stops it and removes the folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, terminate, type ChildServer } from './child-server.js';

/**
 * s3rver's built-in account. s3rver checks only the access key id of a SigV4
 * request (an unknown id gets 403 InvalidAccessKeyId), not its signature.
 */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** The bucket created at start. */
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Where the objects live on disk. */
  readonly directory: string;
  /** `outputLocation.parameters` that reach this server with its key pair. */
  parameters(): Record<string, string>;
  /** Takes the server down (a client mid-request sees its connection end); keeps the data. */
  stop(): Promise<void>;
  /** Starts again on the same port over the same data. */
  restart(): Promise<void>;
  /** Stops (if running) and removes the data folder. */
  dispose(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 with a free port and one bucket (`bench` unless named). */
export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? 'bench';
  const directory = await mkdtemp(join(tmpdir(), 'infermark-s3rver-'));
  let running: ChildServer | null = await launch(directory, bucket, 0);
  const port = running.port;
  const endpoint = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (running === null) return;
    const { child } = running;
    running = null;
    await terminate(child);
  };

  return {
    endpoint,
    port,
    bucket,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    directory,
    parameters: () => ({
      aws_endpoint_url: endpoint,
      aws_access_key_id: S3RVER_ACCESS_KEY_ID,
      aws_secret_access_key: S3RVER_SECRET_ACCESS_KEY,
    }),
    stop,
    restart: async () => {
      await stop();
      running = await launch(directory, bucket, port);
    },
    dispose: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function launch(directory: string, bucket: string, port: number): Promise<ChildServer> {
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const args = [
    '--openssl-legacy-provider',
    bin,
    '--directory',
    directory,
    '--address',
    '127.0.0.1',
    '--port',
    String(port),
    '--silent',
    // Last: s3rver reads everything after the name up to the next option as config files.
    '--configure-bucket',
    bucket,
  ];
  return spawnServer('s3rver', args, directory, /S3rver listening on [^\s:]+:(\d+)/);
}
