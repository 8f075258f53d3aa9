/**
 * The one retry policy: what it retries, when it gives up, and, per scheme, that a
 * failing call reaches the server exactly as often as the policy attempts it. Each
 * scheme's real client talks to its loopback server (s3rver, azurite, the GCS, OCI
 * and GitHub fakes) through a proxy that answers 503 to the first requests of one
 * kind and counts them (`testing/failing-proxy.ts`): a retry the SDK added on its own
 * would show as a request the policy did not make.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageScheme } from '../spec/storage-uri.js';
import type { ObjectStore, StoreOptions } from './object-store.js';
import { DEFAULT_RETRY, preflightStore, QUICK_RETRY, withRetry, type RetryPolicy } from './retry-policy.js';
import { StorageError } from './storage-error.js';
import { startAzurite } from './testing/azurite.js';
import { startFailingProxy, type FailingProxyOptions } from './testing/failing-proxy.js';
import { startFakeGcs } from './testing/fake-gcs.js';
import { startFakeGithub } from './testing/fake-github.js';
import { startFakeOci } from './testing/fake-oci.js';
import { fileToPut, locationOf, withStore } from './testing/object-store.case.js';
import { startS3rver } from './testing/s3rver.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infermark-retry-policy-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const QUICK: RetryPolicy = { giveUpAfterMs: 10_000, firstDelayMs: 5, maxDelayMs: 20 };

/** A failure of the given kind, as an SDK would throw it. */
function httpFailure(status: number): Error {
  return Object.assign(new Error(`HTTP ${status}`), { statusCode: status });
}

test('withRetry: a failure that may pass is retried until the call succeeds, each retry told', async () => {
  let calls = 0;
  const told: number[] = [];
  const value = await withRetry('k', QUICK, { onRetry: (_key, attempt) => told.push(attempt) }, async () => {
    if (++calls < 3) throw httpFailure(503);
    return 'done';
  });
  assert.equal(value, 'done');
  assert.equal(calls, 3);
  assert.deepEqual(told, [1, 2]);
});

test('preflightStore: a transient failure of the first check is retried, a refusal is not', async () => {
  let calls = 0;
  await preflightStore({
    preflight: async () => {
      if (++calls < 2) throw httpFailure(503);
    },
  });
  assert.equal(calls, 2);
  calls = 0;
  await assert.rejects(
    preflightStore({
      preflight: async () => {
        calls++;
        throw httpFailure(403);
      },
    }),
    StorageError,
  );
  assert.equal(calls, 1);
});

test('withRetry: a failure that will not pass is thrown after one attempt, naming the key', async () => {
  let calls = 0;
  const error = await withRetry('run/a.json', QUICK, {}, async () => {
    calls++;
    throw httpFailure(403);
  }).catch((e: unknown) => e);
  assert.equal(calls, 1);
  assert.ok(error instanceof StorageError);
  assert.equal(error.retryable, false);
  assert.match(error.message, /^run\/a\.json: /);
});

test('withRetry: gives up once the next delay would pass giveUpAfterMs', async () => {
  const policy: RetryPolicy = { giveUpAfterMs: 200, firstDelayMs: 20, maxDelayMs: 40 };
  let calls = 0;
  const started = Date.now();
  const error = await withRetry('k', policy, {}, async () => {
    calls++;
    throw httpFailure(500);
  }).catch((e: unknown) => e);
  const elapsed = Date.now() - started;
  assert.ok(error instanceof StorageError && error.retryable, String(error));
  assert.ok(calls >= 2, `${calls} attempts`);
  // The give-up is checked before each wait: no wait starts past the limit (generous room for a busy host).
  assert.ok(elapsed < policy.giveUpAfterMs + 2_000, `${elapsed} ms`);
});

test('DEFAULT_RETRY: two minutes per object, first delay 250 ms, at most 8 s between attempts; QUICK_RETRY: 5 s', () => {
  assert.deepEqual(DEFAULT_RETRY, { giveUpAfterMs: 120_000, firstDelayMs: 250, maxDelayMs: 8_000 });
  assert.deepEqual(QUICK_RETRY, { giveUpAfterMs: 5_000, firstDelayMs: 250, maxDelayMs: 2_000 });
});

interface Scheme {
  scheme: StorageScheme;
  uri: string;
  /** Starts the real server; returns its URL and how to reach it through `endpoint`, and how to stop it. */
  start(): Promise<{
    target: string;
    options(endpoint: string): Omit<StoreOptions, 'location'>;
    stop(): Promise<void>;
  }>;
  createStore(options: StoreOptions): Promise<ObjectStore>;
  /** The request that writes an object (the one the proxy fails). */
  matching: FailingProxyOptions['matching'];
  rewriteOrigin?: boolean;
}

const SCHEMES: Scheme[] = [
  {
    scheme: 's3',
    uri: 's3://bench/retry',
    async start() {
      const server = await startS3rver();
      return {
        target: server.endpoint,
        options: (endpoint) => ({
          parameters: { ...server.parameters(), aws_endpoint_url: endpoint },
          env: {},
        }),
        stop: () => server.dispose(),
      };
    },
    createStore: async (options) => (await import('./s3.js')).createStore(options as never),
    matching: (method) => method === 'PUT',
  },
  {
    scheme: 'az',
    uri: 'az://devstoreaccount1/bench/retry',
    async start() {
      const server = await startAzurite();
      // The container, made directly on the server (not through the proxy).
      const { BlobServiceClient } = await import('@azure/storage-blob');
      await BlobServiceClient.fromConnectionString(server.connectionString())
        .getContainerClient('bench')
        .createIfNotExists();
      return {
        target: `http://127.0.0.1:${server.port}`,
        options: (endpoint) => ({
          parameters: { ...server.parameters(), azure_blob_endpoint: `${endpoint}/${server.account}` },
          env: {},
        }),
        stop: () => server.dispose(),
      };
    },
    createStore: async (options) => (await import('./az.js')).createStore(options as never),
    matching: (method) => method === 'PUT',
  },
  {
    scheme: 'gs',
    uri: 'gs://bench/retry',
    async start() {
      const server = await startFakeGcs({ buckets: ['bench'] });
      return {
        target: server.endpoint,
        options: (endpoint) => ({ parameters: { gcp_endpoint: endpoint }, env: {} }),
        stop: () => server.stop(),
      };
    },
    createStore: async (options) => (await import('./gs.js')).createStore(options as never),
    matching: (method, path) => method === 'POST' && path.startsWith('/upload/'),
  },
  {
    scheme: 'oci',
    uri: 'oci://n/infermark/b/bench/o/retry',
    async start() {
      const keyId =
        'ocid1.tenancy.oc1..retry/ocid1.user.oc1..retry/12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0';
      const [tenancy, user, fingerprint] = keyId.split('/') as [string, string, string];
      const pair = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      const keyFile = join(dir, 'oci_api_key.pem');
      const configFile = join(dir, 'oci_config');
      await writeFile(keyFile, pair.privateKey, { mode: 0o600 });
      await writeFile(
        configFile,
        `[DEFAULT]\nuser=${user}\nfingerprint=${fingerprint}\ntenancy=${tenancy}\nregion=us-phoenix-1\nkey_file=${keyFile}\n`,
      );
      const server = await startFakeOci({
        namespace: 'infermark',
        buckets: ['bench'],
        keys: { [keyId]: pair.publicKey },
      });
      return {
        target: server.endpoint,
        options: (endpoint) => ({
          parameters: { endpoint, auth: 'user_principal', config_file: configFile },
          env: { HOME: dir },
        }),
        stop: () => server.stop(),
      };
    },
    createStore: async (options) => (await import('./oci.js')).createStore(options as never),
    matching: (method) => method === 'PUT',
  },
  {
    scheme: 'github',
    uri: 'github://acme/bench@v1',
    async start() {
      const token = 'ghp_retrypolicytesttoken0000000000000000';
      const server = await startFakeGithub({
        token,
        repos: [{ owner: 'acme', repo: 'bench', releases: ['v1'] }],
      });
      return {
        target: server.url,
        options: (endpoint) => ({ parameters: { github_token: token, github_api_url: endpoint }, env: {} }),
        stop: () => server.stop(),
      };
    },
    createStore: async (options) => (await import('./github.js')).createStore(options as never),
    matching: (method, path) => method === 'POST' && path.startsWith('/uploads/'),
    // Uploads go to the release's upload_url, which the server names with its own origin.
    rewriteOrigin: true,
  },
];

/**
 * Puts one object (or, with `read`, heads it) through a proxy that fails the first
 * `failFirst` such requests; returns the attempts the policy made, the requests the
 * server side saw, and what was printed on stderr meanwhile.
 */
async function putThroughFailures(
  scheme: Scheme,
  failFirst: number,
  policy: RetryPolicy,
  failWith: 503 | 'reset' = 503,
  read?: { matching: FailingProxyOptions['matching'] },
): Promise<{ attempts: number; matched: number; failed: number; error: unknown; stderr: string }> {
  const server = await scheme.start();
  const proxy = await startFailingProxy({
    target: server.target,
    matching: read?.matching ?? scheme.matching,
    failFirst,
    failWith,
    ...(scheme.rewriteOrigin ? { rewriteOrigin: true } : {}),
  });
  try {
    const object = await fileToPut(
      dir,
      `${scheme.scheme}-${failFirst}-${failWith}/run.json`,
      '{"run_id":"r"}\n',
    );
    const options = { location: locationOf(scheme.uri, scheme.scheme), ...server.options(proxy.endpoint) };
    let attempts = 0;
    let error: unknown = null;
    const stderr: string[] = [];
    await withStore(await scheme.createStore(options), async (store) => {
      // Warm (credentials read, connection open) by a call the proxy does not count.
      await store.preflight();
      // What an SDK prints of its own retries while the policy retries (OCI's notices).
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
        stderr.push(String(chunk));
        return write(chunk, ...rest);
      }) as typeof process.stderr.write;
      try {
        await withRetry(object.key, policy, {}, async () => {
          attempts++;
          if (read) await store.head(object.key);
          else await store.put(object);
        }).catch((e: unknown) => {
          error = e;
        });
      } finally {
        process.stderr.write = write;
      }
    });
    return { attempts, matched: proxy.matched(), failed: proxy.failed(), error, stderr: stderr.join('') };
  } finally {
    await proxy.stop();
    await server.stop();
  }
}

for (const scheme of SCHEMES) {
  for (const failWith of [503, 'reset'] as const) {
    const how = failWith === 503 ? 'with 503' : 'by a reset connection';
    test(`${scheme.scheme}: a write failing twice ${how} is sent three times, once per attempt of the policy`, async () => {
      const seen = await putThroughFailures(scheme, 2, QUICK, failWith);
      assert.equal(seen.error, null, String(seen.error));
      assert.deepEqual(
        { attempts: seen.attempts, requests: seen.matched, failed: seen.failed },
        { attempts: 3, requests: 3, failed: 2 },
      );
      assert.doesNotMatch(seen.stderr, /retr/i, 'no notice of SDK retries on stderr');
    });
  }

  test(`${scheme.scheme}: a write that keeps failing reaches the server once per attempt until the policy gives up`, async () => {
    const seen = await putThroughFailures(scheme, Number.POSITIVE_INFINITY, {
      giveUpAfterMs: 1_000,
      firstDelayMs: 20,
      maxDelayMs: 40,
    });
    assert.ok(seen.error instanceof StorageError && seen.error.retryable, String(seen.error));
    assert.ok(seen.attempts >= 2, `${seen.attempts} attempts`);
    assert.equal(seen.matched, seen.attempts, `${seen.matched} requests for ${seen.attempts} attempts`);
  });
}

test("oci: a read retried by the policy prints none of the SDK's notices about its own retries", async () => {
  const oci = SCHEMES.find((scheme) => scheme.scheme === 'oci') as Scheme;
  // Of a failed read without a body, the SDK says "All retry attempts have exhausted. Total Attempts : 1".
  const seen = await putThroughFailures(oci, 2, QUICK, 'reset', {
    matching: (method, path) => method === 'HEAD' && path.includes('/o/'),
  });
  assert.equal(seen.error, null, String(seen.error));
  assert.deepEqual({ attempts: seen.attempts, requests: seen.matched }, { attempts: 3, requests: 3 });
  assert.doesNotMatch(seen.stderr, /retr/i);
});
