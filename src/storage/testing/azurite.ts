/**
 * azurite's blob service on loopback, for tests that need an Azure Blob endpoint.
 * It runs as a child process (azurite's own entry point, see `child-server.ts`),
 * so a test can take it down mid-upload. Its data
 * lives in a temp folder that outlives `stop()`: `restart()` comes back on the
 * same port with the same blobs; `dispose()` stops it and removes the folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, terminate, type ChildServer } from './child-server.js';

/**
 * azurite's well-known development account and key: public, printed in Azure's own
 * documentation, accepted only by the emulator. Not a secret.
 */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteHandle {
  /** `http://127.0.0.1:<port>/devstoreaccount1` (path-style, as azurite serves it). */
  readonly blobEndpoint: string;
  readonly port: number;
  readonly account: string;
  readonly key: string;
  /** Where the blobs live on disk. */
  readonly directory: string;
  /** A connection string for this server (account key). */
  connectionString(): string;
  /** `outputLocation.parameters` that reach this server with the account key. */
  parameters(): Record<string, string>;
  /** Stops the server (SIGTERM, then SIGKILL if it lingers); keeps the data. */
  stop(): Promise<void>;
  /** Starts again on the same port over the same data. */
  restart(): Promise<void>;
  /** Stops (if running) and removes the data folder. */
  dispose(): Promise<void>;
}

/** Starts azurite's blob service on 127.0.0.1 with a free port, persisting to a temp folder. */
export async function startAzurite(): Promise<AzuriteHandle> {
  const directory = await mkdtemp(join(tmpdir(), 'infermark-azurite-'));
  let running: ChildServer | null = await launch(directory, 0);
  const port = running.port;
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;

  const stop = async (): Promise<void> => {
    if (running === null) return;
    const { child } = running;
    running = null;
    await terminate(child);
  };

  return {
    blobEndpoint,
    port,
    account: AZURITE_ACCOUNT,
    key: AZURITE_KEY,
    directory,
    connectionString: () =>
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    parameters: () => ({ azure_blob_endpoint: blobEndpoint, azure_account_key: AZURITE_KEY }),
    stop,
    restart: async () => {
      await stop();
      running = await launch(directory, port);
    },
    dispose: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function launch(directory: string, port: number): Promise<ChildServer> {
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const args = [
    entry,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--location',
    directory,
    '--silent',
    '--loose',
    '--skipApiVersionCheck',
    // Tests reach nothing beyond loopback, and send nothing anywhere.
    '--disableTelemetry',
  ];
  return spawnServer('azurite', args, directory, /listens on https?:\/\/[^\s:]+:(\d+)/);
}
