/**
 * Shipping run folders, end to end against real object stores on loopback:
 * s3rver (S3) and azurite (Azure Blob), both started here. A real run by the
 * built CLI uploads to its outputLocation; `download` reads it back and every
 * digest verifies. Uploading twice leaves the same objects; an upload whose server
 * is stopped mid-way completes when it is back, or resumes when run again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, cliRunFolder, ROOT, runArgs, simulatorFixture, SMALL_RUN } from '../cli/testing/harness.js';
import { verifyRunFolder } from '../evidence/verify.js';
import type { ObjectStore, ObjectToPut, StoredObject } from './object-store.js';
import { openLocation } from './open-location.js';
import { startAzurite, type AzuriteHandle } from './testing/azurite.js';
import { startS3rver, type S3rverHandle } from './testing/s3rver.js';
import { runUploadAndReadBack, writeUploadJob } from '../cli/testing/run-round-trip.case.js';
import { downloadRun, uploadRunFolder } from './upload.js';

let s3: S3rverHandle;
let azurite: AzuriteHandle;
/** A sealed run folder made once by a real run, for the tests that upload by hand. */
let localRun: string;

const { sim, tmp } = simulatorFixture(
  'infermark-upload-',
  { ttftMs: 5, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 },
  {
    setUp: async () => {
      [s3, azurite] = await Promise.all([startS3rver(), startAzurite()]);
      await BlobServiceClient.fromConnectionString(azurite.connectionString())
        .getContainerClient('runs')
        .create();
      const out = join(tmp(), 'local');
      localRun = await cliRunFolder(runArgs({ url: sim().url, out, ...SMALL_RUN }), out);
    },
    tearDown: async () => {
      await Promise.all([s3?.dispose(), azurite?.dispose()]);
    },
  },
);

/** A job file for a run against the simulator whose results go to `storageUri`. */
function jobFile(name: string, storageUri: string, params: Record<string, string>): Promise<string> {
  return writeUploadJob({ name, storageUri, params, simUrl: sim().url, tmp: tmp() });
}

/** The shared round trip: run, download, byte-for-byte the same. */
async function roundTrip(name: string, storageUri: string, params: Record<string, string>): Promise<void> {
  await runUploadAndReadBack({ name, storageUri, params, simUrl: sim().url, tmp: tmp() });
}

test('s3 (s3rver): a run uploads to its outputLocation; download reads it back and every digest verifies', async () => {
  await roundTrip('to-s3', `s3://${s3.bucket}@us-east-1/experiments`, {
    ...s3.parameters(),
    aws_region: 'us-east-1',
  });
});

test('az (azurite): a run uploads to its outputLocation; download reads it back and every digest verifies', async () => {
  await roundTrip('to-az', `az://${azurite.account}/runs/experiments`, azurite.parameters());
});

/** Every object under a prefix with the digest its store holds. */
async function snapshot(store: ObjectStore, prefix: string): Promise<StoredObject[]> {
  const listed = await store.list(prefix);
  return Promise.all(listed.map(async (o) => (await store.head(o.key)) as StoredObject));
}

test('uploading the same run twice leaves the same objects (s3 and az)', async () => {
  for (const [uri, parameters] of [
    [`s3://${s3.bucket}/twice`, s3.parameters()],
    [`az://${azurite.account}/runs/twice`, azurite.parameters()],
  ] as const) {
    const store = await openLocation({ uri, parameters, source: { path: 'URI' } });
    try {
      const first = await uploadRunFolder(localRun, store);
      const before = await snapshot(store, `${first.run_id}/`);
      const second = await uploadRunFolder(localRun, store);
      const afterwards = await snapshot(store, `${first.run_id}/`);
      assert.equal(second.uploaded, 0, uri);
      assert.equal(second.skipped, first.objects, uri);
      assert.deepEqual(afterwards, before, uri);
      assert.equal(before.length, first.objects);
    } finally {
      await store.close();
    }
  }
});

/** A store that calls `afterPut` once `count` puts have completed (to stop the server mid-upload). */
function stopAfter(store: ObjectStore, count: number, afterPut: () => Promise<void>): ObjectStore {
  let puts = 0;
  return {
    display: store.display,
    preflight: () => store.preflight(),
    head: (key) => store.head(key),
    get: (key, path) => store.get(key, path),
    list: (prefix) => store.list(prefix),
    close: () => store.close(),
    async put(object: ObjectToPut) {
      await store.put(object);
      if (++puts === count) await afterPut();
    },
  };
}

test('s3: the server stops mid-upload and comes back; the upload retries and completes', async () => {
  const store = await openLocation({
    uri: `s3://${s3.bucket}/outage`,
    parameters: s3.parameters(),
    source: { path: 'URI' },
  });
  const retries: string[] = [];
  try {
    const flaky = stopAfter(store, 3, async () => {
      await s3.stop();
      setTimeout(() => void s3.restart(), 1_500);
    });
    const result = await uploadRunFolder(localRun, flaky, {
      parallel: 1,
      retry: { giveUpAfterMs: 30_000, firstDelayMs: 100, maxDelayMs: 1_000 },
      onRetry: (key) => retries.push(key),
    });
    assert.ok(retries.length > 0, 'the outage was seen and retried');
    assert.equal(result.uploaded + result.skipped, result.objects);
    const report = await downloadRun(store, result.run_id, join(tmp(), 'outage-back'));
    assert.equal(report.status, 'complete', JSON.stringify(report.problems));
  } finally {
    await store.close();
  }
});

test('az: an upload that gave up while the server was down resumes when run again, skipping what is there', async () => {
  const store = await openLocation({
    uri: `az://${azurite.account}/runs/resume`,
    parameters: azurite.parameters(),
    source: { path: 'URI' },
  });
  try {
    const flaky = stopAfter(store, 4, () => azurite.stop());
    await assert.rejects(
      uploadRunFolder(localRun, flaky, {
        parallel: 1,
        retry: { giveUpAfterMs: 500, firstDelayMs: 50, maxDelayMs: 200 },
      }),
      (error: Error) => error.name === 'StorageError',
    );
    await azurite.restart();
    const resumed = await uploadRunFolder(localRun, store);
    assert.ok(resumed.skipped >= 4, `skipped ${resumed.skipped}`);
    assert.equal(resumed.uploaded + resumed.skipped, resumed.objects);
    const report = await downloadRun(store, resumed.run_id, join(tmp(), 'resume-back'));
    assert.equal(report.status, 'complete', JSON.stringify(report.problems));
  } finally {
    await store.close();
  }
});

test('pvc and local folders: upload by hand, then download verifies', async () => {
  const root = join(tmp(), 'pvc-root');
  // The claim's mount folder, as the controller's volume mount makes it.
  await mkdir(join(root, 'results-claim'), { recursive: true });
  const env = { ...process.env, INFERMARK_PVC_ROOT: root };
  const upload = await cli(['upload', localRun, 'pvc://bench:results-claim/runs', '--json'], { env });
  assert.equal(upload.code, 0, upload.stderr);
  const { run_id } = JSON.parse(upload.stdout) as { run_id: string };
  const copy = join(root, 'results-claim', 'runs', run_id);
  assert.equal((await verifyRunFolder(copy)).status, 'complete');
  const back = join(tmp(), 'pvc-back');
  const download = await cli(['download', join(root, 'results-claim', 'runs'), run_id, back]);
  assert.equal(download.code, 0, download.stdout + download.stderr);
  assert.match(download.stdout, /COMPLETE/);
});

test('pvc with no volume mounted: upload refuses (exit 2) and writes nothing to the local disk', async () => {
  const root = join(tmp(), 'pvc-unmounted');
  const env = { ...process.env, INFERMARK_PVC_ROOT: root };
  const upload = await cli(['upload', localRun, 'pvc://results-claim/runs'], { env });
  assert.equal(upload.code, 2, upload.stderr);
  assert.ok(upload.stderr.includes(`no volume is mounted at ${join(root, 'results-claim')}`), upload.stderr);
  assert.doesNotMatch(upload.stderr, /internal error|\n\s+at /);
  assert.equal(existsSync(root), false);
});

test('s3:/bucket (one slash) is refused with the URI meant, not written to a local ./s3: folder', async () => {
  const upload = await cli(['upload', localRun, 's3:/bench/runs']);
  assert.equal(upload.code, 2, upload.stderr);
  assert.match(upload.stderr, /did you mean "s3:\/\/bench\/runs"\?/);
  assert.equal(existsSync(join(ROOT, 's3:')), false);
});

test('a bad URI or missing credentials are refused before any load is sent (exit 2)', async () => {
  const before = (await sim().stats()).requests;
  const badUri = await cli(['run', await jobFile('bad-uri', 'oci://ns/bucket/path', {}), '--quiet']);
  assert.equal(badUri.code, 2, badUri.stderr);
  assert.match(
    badUri.stderr,
    /spec\.outputLocation\.storageUri: "oci:\/\/ns\/bucket\/path": expected oci:\/\/n\//,
  );
  const noToken = await cli(['run', await jobFile('no-token', 'github://owner/repo@v1', {}), '--quiet'], {
    env: { ...process.env, GITHUB_TOKEN: '', GH_TOKEN: '' },
  });
  assert.equal(noToken.code, 2, noToken.stderr);
  assert.match(noToken.stderr, /github_token/);
  const noBucket = await cli([
    'run',
    await jobFile('no-bucket', 's3://no-such-bucket/x', s3.parameters()),
    '--quiet',
  ]);
  assert.equal(noBucket.code, 2, noBucket.stderr);
  assert.match(noBucket.stderr, /no-such-bucket/);
  assert.equal((await sim().stats()).requests, before, 'no request reached the server');
});

test('an unsealed or altered run folder is not uploaded', async () => {
  const store = await openLocation({ uri: join(tmp(), 'refused'), source: { path: 'URI' } });
  try {
    const copy = join(tmp(), 'altered');
    await cp(localRun, copy, { recursive: true });
    await writeFile(join(copy, 'run.json'), '{}');
    await assert.rejects(uploadRunFolder(copy, store), /does not verify \(run\.json: changed/);
    await rm(join(copy, 'manifest.sha256'));
    await rm(join(copy, 'manifest.json'));
    await assert.rejects(uploadRunFolder(copy, store), /was not sealed/);
  } finally {
    await store.close();
  }
});

test('a run in a store is ingested from its URI; lineage checks the objects there', async () => {
  const store = await openLocation({
    uri: `s3://${s3.bucket}/ingest`,
    parameters: s3.parameters(),
    source: { path: 'URI' },
  });
  const uploaded = await uploadRunFolder(localRun, store, { folder: 'nightly' });
  await store.close();
  const warehouse = join(tmp(), 'from-store.duckdb');
  // Lineage reads the store with credentials from the environment, as a CI job would.
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
  const uri = `s3://${s3.bucket}/ingest/nightly/${uploaded.run_id}`;
  const ingest = await cli(['warehouse', 'ingest', uri, '--warehouse', warehouse, '--format', 'json'], {
    env,
  });
  assert.equal(ingest.code, 0, ingest.stderr);
  assert.equal((JSON.parse(ingest.stdout) as { outcome: string }[])[0]?.outcome, 'ingested');
  const lineage = await cli(
    [
      'lineage',
      'serving_points',
      '--column',
      'ttft_ms_p50',
      '--run',
      uploaded.run_id,
      '--warehouse',
      warehouse,
    ],
    { env },
  );
  assert.equal(lineage.code, 0, lineage.stdout + lineage.stderr);
  assert.match(
    lineage.stdout,
    new RegExp(`evidence  s3://${s3.bucket}/ingest/nightly: every artifact present and unchanged`),
  );
  assert.doesNotMatch(
    lineage.stdout,
    /infermark-ingest-/,
    'the temporary download is not recorded as evidence',
  );
  const again = await cli(['warehouse', 'ingest', uri, '--warehouse', warehouse, '--format', 'json'], {
    env,
  });
  assert.equal((JSON.parse(again.stdout) as { outcome: string }[])[0]?.outcome, 'unchanged');
});

test("s3 commands do not print the AWS SDK's Node-version notice; a user's own setting of its switch is kept", async () => {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
  };
  const notice = /NodeVersionSupportWarning|AWS SDK for JavaScript/;
  const upload = await cli(['upload', localRun, `s3://${s3.bucket}/quiet`], { env });
  assert.equal(upload.code, 0, upload.stderr);
  assert.doesNotMatch(upload.stderr, notice);
  const back = join(tmp(), 'quiet-back');
  const runId = localRun.split(/[\\/]/).pop() as string;
  const download = await cli(['download', `s3://${s3.bucket}/quiet`, runId, back], { env });
  assert.equal(download.code, 0, download.stderr);
  assert.doesNotMatch(download.stderr, notice);
  // The control: the SDK still prints it where a user asked for it, so the check above can fail.
  const asked = await cli(['upload', localRun, `s3://${s3.bucket}/asked`], {
    env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' },
  });
  assert.equal(asked.code, 0, asked.stderr);
  const sdkWarnsHere = Number(process.versions.node.split('.')[0]) < 22;
  assert.equal(notice.test(asked.stderr), sdkWarnsHere, asked.stderr);
});
