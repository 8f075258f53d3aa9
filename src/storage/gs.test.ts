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
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, runFolderUnder, simulatorFixture, writeJobYaml } from '../cli/cli-harness.js';
import { listFiles, type RunManifest } from '../evidence/manifest.js';
import { createStore } from './gs.js';
import { fileToPut, locationOf, objectStoreContract } from './object-store.case.js';
import type { ObjectStore } from './object-store.js';
import { StorageError } from './storage-error.js';
import { startFakeGcs, type FakeGcs } from './testing/fake-gcs.js';
import { downloadRun } from './upload.js';

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
  const storageUri = 'gs://bench/experiments';
  const job = await writeJobYaml(join(tmp(), 'to-gs.yaml'), {
    name: 'to-gs',
    url: sim().url,
    scenarios: ['D(16,6)'],
    concurrency: [1, 2],
    maxRequestsPerIteration: 5,
    spec: [
      'resultFolderName: nightly',
      'outputLocation:',
      `  storageUri: '${storageUri}'`,
      '  parameters:',
      `    gcp_endpoint: '${gcs.endpoint}'`,
    ],
  });
  const out = join(tmp(), 'to-gs-runs');
  const result = await cli(['run', job, '--out', out, '--quiet', '--json', '--no-warehouse']);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as {
    run_id: string;
    artifact_manifest_digest: string;
    upload: { uploaded: number; skipped: number; objects: number; prefix: string };
  };
  assert.equal(printed.upload.prefix, `nightly/${printed.run_id}`);
  assert.equal(printed.upload.uploaded, printed.upload.objects);
  const runDir = await runFolderUnder(out);
  const files = await listFiles(runDir);
  assert.ok(
    files.some((f) => f.startsWith('iterations/001/')),
    files.join(', '),
  );

  // What the server holds: one object per file, each with the bytes and the sha256 of the run's manifest.
  const base = `experiments/${printed.upload.prefix}/`;
  const stored = [...gcs.objects('bench').keys()].filter((name) => name.startsWith(base));
  assert.deepEqual(stored.map((name) => name.slice(base.length)).sort(), files);
  const manifest = JSON.parse(await readFile(join(runDir, 'manifest.json'), 'utf8')) as RunManifest;
  assert.equal(manifest.artifacts.length + 2, files.length);
  for (const artifact of manifest.artifacts) {
    const object = gcs.objects('bench').get(base + artifact.path);
    assert.ok(object, artifact.path);
    const digest = `sha256:${createHash('sha256').update(object.data).digest('hex')}`;
    assert.equal(digest, artifact.sha256, `stored bytes of ${artifact.path}`);
    assert.equal(object.metadata['sha256'], artifact.sha256, `sha256 metadata of ${artifact.path}`);
  }

  const back = join(tmp(), 'to-gs-back');
  const download = await cli([
    'download',
    storageUri,
    printed.upload.prefix,
    back,
    '--json',
    '--param',
    `gcp_endpoint=${gcs.endpoint}`,
  ]);
  assert.equal(download.code, 0, download.stdout + download.stderr);
  const report = JSON.parse(download.stdout) as { status: string; artifact_manifest_digest: string };
  assert.equal(report.status, 'complete');
  assert.equal(report.artifact_manifest_digest, printed.artifact_manifest_digest);
  assert.deepEqual(await listFiles(back), files);
  for (const file of files) {
    assert.deepEqual(await readFile(join(back, file)), await readFile(join(runDir, file)), file);
  }

  // One byte changed in the store (the client's own hash checks still pass: the server hashes what it holds).
  const altered = 'iterations/000/requests.jsonl';
  const object = gcs.objects('bench').get(base + altered);
  assert.ok(object && object.data.length > 0, altered);
  const bytes = Buffer.from(object.data);
  bytes[1] = (bytes[1] as number) ^ 0x01;
  object.data = bytes;
  const store = await open(storageUri);
  try {
    const again = await downloadRun(store, printed.upload.prefix, join(tmp(), 'to-gs-altered'));
    assert.equal(again.status, 'corrupt');
    assert.ok(
      again.problems.some((p) => p.path === altered && /^changed/.test(p.problem)),
      JSON.stringify(again.problems),
    );
  } finally {
    await store.close();
  }
});
