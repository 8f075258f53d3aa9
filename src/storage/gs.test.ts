/**
 * The `gs://` store against the official `@google-cloud/storage` client talking to a
 * loopback server that implements the subset of the GCS JSON API infermark uses
 * (`testing/fake-gcs.ts`). That server is the closest real thing that runs here: no
 * GCS emulator installs from npm alone (fake-gcs-server is a Go binary with no Debian
 * package; Google's emulator ships with the gcloud SDK), so the real client, its
 * upload protocols and its hash validation are exercised, and the server is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simulatorFixture } from '../cli/testing/harness.js';
import { createStore } from './gs.js';
import { fileToPut, locationOf, objectStoreContract } from './testing/object-store.case.js';
import type { ObjectStore } from './object-store.js';
import { StorageError } from './storage-error.js';
import { startFakeGcs, type FakeGcs } from './testing/fake-gcs.js';
import { runUploadDownloadAlter } from '../cli/testing/run-round-trip.case.js';

let gcs: FakeGcs;
let dir: string;

// The simulator serves the real run whose folder is uploaded; the store tests only need the folder.
const { sim, tmp } = simulatorFixture(
  'infermark-gs-',
  { ttftMs: 5, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 },
  {
    setUp: async () => {
      // A page of 2 makes the contract's listing of 4 objects walk several pages.
      gcs = await startFakeGcs({ buckets: ['bench'], pageSize: 2 });
      dir = join(tmp(), 'objects');
      await mkdir(dir);
    },
    tearDown: async () => {
      await gcs?.stop();
    },
  },
);

function open(uri: string, env: Record<string, string> = {}): Promise<ObjectStore> {
  const parameters: Record<string, string> =
    'STORAGE_EMULATOR_HOST' in env ? {} : { gcp_endpoint: gcs.endpoint };
  return createStore({ location: locationOf(uri, 'gs'), parameters, env });
}

objectStoreContract('gs', { store: () => open('gs://bench/results/nightly') });

test('gs: objects land under the URI prefix with their sha256 as metadata', async () => {
  const store = await open('gs://bench/prefixed');
  try {
    const object = await fileToPut(dir, 'r1/run.json', '{"x":1}\n');
    await store.put(object);
    const stored = gcs.objects('bench').get('prefixed/r1/run.json');
    assert.ok(stored);
    assert.equal(stored.metadata['sha256'], object.sha256);
    assert.equal(stored.contentType, 'application/json');
  } finally {
    await store.close();
  }
});

test('gs: STORAGE_EMULATOR_HOST from the environment is honoured', async () => {
  const store = await open('gs://bench/from-env', {
    STORAGE_EMULATOR_HOST: gcs.endpoint.replace('http://', ''),
  });
  try {
    await store.preflight();
    await store.put(await fileToPut(dir, 'r2/a.txt', 'a'));
    assert.equal((await store.head('r2/a.txt'))?.size_bytes, 1);
  } finally {
    await store.close();
  }
});

test('gs: a large object goes through a resumable session and round-trips', async () => {
  const store = await open('gs://bench/large');
  try {
    const bytes = Buffer.alloc(6 * 1024 * 1024 + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const object = await fileToPut(dir, 'r3/requests.jsonl', bytes);
    await store.put(object);
    assert.ok(
      gcs.requests.some(
        (r) => r.startsWith('POST /upload/storage/v1/b/bench/o?') && r.includes('uploadType=resumable'),
      ),
    );
    const back = join(dir, 'large-back');
    await store.get(object.key, back);
    assert.equal(
      createHash('sha256')
        .update(await readFile(back))
        .digest('hex'),
      object.sha256.slice(7),
    );
  } finally {
    await store.close();
  }
});

test('gs: bytes that do not match the declared MD5 are refused and not stored', async () => {
  const store = await open('gs://bench/md5');
  try {
    const object = await fileToPut(dir, 'r4/run.json', '{"y":2}\n');
    const error = await store
      .put({ ...object, md5_base64: createHash('md5').update('other').digest('base64') })
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(gcs.objects('bench').has('md5/r4/run.json'), false);
  } finally {
    await store.close();
  }
});

test('gs: preflight on a missing bucket is a configuration error naming it', async () => {
  const store = await open('gs://no-such-bucket/x');
  try {
    const error = await store.preflight().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof StorageError);
    assert.equal(error.retryable, false);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /no-such-bucket/);
  } finally {
    await store.close();
  }
});

test('gs: a preflight that cannot reach the endpoint says so in one line: scheme, bucket, reason, no FetchError', async () => {
  // A port nothing listens on, a server that drops every connection, one that answers 500.
  const reset = createServer((req) => req.socket.destroy());
  const failing = createServer((_req, res) =>
    res.writeHead(500, { 'content-type': 'text/html' }).end('<html>\nboom\n</html>'),
  );
  await Promise.all([reset, failing].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const port = (s: typeof reset): number => (s.address() as AddressInfo).port;
  const cases: [string, RegExp][] = [
    ['http://127.0.0.1:9', /connection refused \(ECONNREFUSED\)$/],
    [`http://127.0.0.1:${port(reset)}`, /connection reset \(ECONNRESET\)$|socket hang up$/],
    [`http://127.0.0.1:${port(failing)}`, /HTTP 500$/],
  ];
  try {
    for (const [endpoint, reason] of cases) {
      const store = await createStore({
        location: locationOf('gs://bench/x', 'gs'),
        parameters: { gcp_endpoint: endpoint },
        env: {},
      });
      const error = await store.preflight().then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(error instanceof StorageError, String(error));
      const head = `gs://bench/x: preflight of bucket "bench" failed (Cloud Storage at ${endpoint}): `;
      assert.ok(error.message.startsWith(head), error.message);
      assert.match(error.message, reason);
      assert.doesNotMatch(error.message, /FetchError|\n|storage\/v1/);
    }
  } finally {
    reset.close();
    failing.close();
  }
});

test('gs: an unreadable gcp_credentials_path is a configuration error naming the parameter', async () => {
  const store = await createStore({
    location: locationOf('gs://bench/x', 'gs'),
    parameters: { gcp_endpoint: gcs.endpoint, gcp_credentials_path: join(dir, 'missing-key.json') },
    env: {},
  });
  try {
    const error = await store.preflight().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.retryable, false);
    assert.match(error.message, /gcp_credentials_path/);
  } finally {
    await store.close();
  }
});

test('gs: a real run uploads to its outputLocation; download reads it back, every digest verifies, an altered object is named', async () => {
  await runUploadDownloadAlter({
    name: 'to-gs',
    storageUri: 'gs://bench/experiments',
    params: { gcp_endpoint: gcs.endpoint },
    simUrl: sim().url,
    tmp: tmp(),
    objects: () => gcs.objects('bench'),
    storedSha256: (object) => object.metadata['sha256'],
    openStore: () => open('gs://bench/experiments'),
  });
});
