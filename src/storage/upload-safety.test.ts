/**
 * What the uploader refuses or gives up on, against the file store and small run
 * folders sealed here (no simulator): which errors are retried and how the rest
 * end the process, a file changed after the run was verified, and manifests whose
 * paths or run_id would climb out of their folder, on upload and on download.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfermarkError } from '../base/errors.js';
import { canonicalJson, sha256 } from '../base/digest.js';
import {
  describeArtifacts,
  MANIFEST_DIGEST_FILE,
  MANIFEST_FILE,
  MANIFEST_SCHEMA_VERSION,
  sealIteration,
  sealRun,
  type RunManifest,
} from '../evidence/manifest.js';
import { RunFolder } from '../evidence/run-folder.js';
import type { ObjectStore, ObjectToPut } from './object-store.js';
import { openLocation } from './open-location.js';
import { describeError, isRetryable, StorageError } from './storage-error.js';
import type { RetryPolicy } from './retry-policy.js';
import { downloadRun, uploadRunFolder } from './upload.js';

/** Long enough that an error retried by mistake would time the test out. */
const PATIENT: RetryPolicy = { giveUpAfterMs: 60_000, firstDelayMs: 10, maxDelayMs: 20 };

let tmp: string;
let cases = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-upload-safety-'));
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A fresh folder under the test's temp folder. */
async function fresh(name: string): Promise<string> {
  const dir = join(tmp, `${name}-${++cases}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A sealed run: run.json, one sealed iteration, a note, and the run's manifest. */
async function sealedRun(dir: string, runId = 'run-1'): Promise<string> {
  const folder = await RunFolder.create(dir);
  await folder.writeJson('run.json', { run_id: runId, plan: [{ iteration: 0 }] });
  await folder.writeText('iterations/000/requests.jsonl', '{"i":0}\n{"i":1}\n');
  await sealIteration(folder, runId, 0);
  await folder.writeText('notes.txt', 'kept as evidence\n');
  await sealRun(folder, runId, 'complete');
  return dir;
}

/** Seals `dir` with a manifest written by hand, listing `paths` (which may lie outside it). */
async function craftSeal(dir: string, runId: string, paths: string[]): Promise<void> {
  const manifest: RunManifest = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    kind: 'run',
    run_id: runId,
    status: 'complete',
    sealed_at: new Date().toISOString(),
    artifacts: await describeArtifacts(dir, paths),
  };
  const text = canonicalJson(manifest);
  await writeFile(join(dir, MANIFEST_FILE), text);
  await writeFile(join(dir, MANIFEST_DIGEST_FILE), `${sha256(text)}\n`);
}

async function fileStore(root: string): Promise<ObjectStore> {
  return openLocation({ uri: root, source: { path: 'URI' } });
}

/** A store whose puts go through `put` first (which may throw, wait, or change files). */
function wrapPuts(store: ObjectStore, put: (object: ObjectToPut, n: number) => Promise<void>): ObjectStore {
  let n = 0;
  return {
    display: store.display,
    preflight: () => store.preflight(),
    head: (key) => store.head(key),
    get: (key, path) => store.get(key, path),
    list: (prefix) => store.list(prefix),
    close: () => store.close(),
    async put(object) {
      await put(object, ++n);
      await store.put(object);
    },
  };
}

/** The error `promise` rejects with, which must be one a user is shown (code and exit code). */
async function rejection(promise: Promise<unknown>): Promise<InfermarkError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof InfermarkError, `expected an InfermarkError, got ${String(error)}`);
  return error;
}

async function refusal(promise: Promise<unknown>): Promise<StorageError> {
  const error = await rejection(promise);
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${error.name}: ${error.message}`);
  return error;
}

function errno(code: string, message = `${code}: failed`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

test('isRetryable: HTTP 408/429/5xx and network failures that may pass; nothing else', () => {
  const retried: [string, unknown][] = [
    ['ECONNRESET', errno('ECONNRESET')],
    ['ECONNREFUSED (AWS, Azure, GCS)', errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9')],
    ['undici socket', errno('UND_ERR_SOCKET', 'other side closed')],
    ['undici headers timeout', errno('UND_ERR_HEADERS_TIMEOUT')],
    ['fetch failed, socket cause', new TypeError('fetch failed', { cause: errno('ECONNREFUSED') })],
    ['fetch failed as a plain object (OCI)', { message: 'fetch failed', requestEndpoint: 'HEAD http://h/o' }],
    ['dual-stack connect', new AggregateError([errno('ECONNREFUSED'), errno('ENETUNREACH')], 'x')],
    ['socket hang up', new Error('socket hang up')],
    ['TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['503', { $metadata: { httpStatusCode: 503 } }],
    ['429', { statusCode: 429 }],
    ['408', { status: 408 }],
    ['Octokit network failure (500)', { status: 500, message: 'connect ECONNREFUSED' }],
    ['retryable StorageError', new StorageError('x', { retryable: true })],
  ];
  const notRetried: [string, unknown][] = [
    ['EACCES', errno('EACCES')],
    ['ENOSPC', errno('ENOSPC')],
    ['ENOTFOUND', errno('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere.invalid')],
    ['SDK TypeError', new TypeError('Cannot read properties of undefined')],
    [
      'credentials provider',
      Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }),
    ],
    ['fetch failed, DNS cause', new TypeError('fetch failed', { cause: errno('ENOTFOUND') })],
    ['fetch failed, TLS cause', new TypeError('fetch failed', { cause: errno('CERT_HAS_EXPIRED') })],
    ['403', { $metadata: { httpStatusCode: 403 } }],
    ['404', { statusCode: 404 }],
    ['a string', 'boom'],
    ['non-retryable StorageError', new StorageError('x', { retryable: false })],
  ];
  for (const [name, error] of retried) assert.equal(isRetryable(error), true, name);
  for (const [name, error] of notRetried) assert.equal(isRetryable(error), false, name);
});

test('describeError: name, code, first line, and the innermost cause when the message does not say it', () => {
  const refused = errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(describeError(refused), 'connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(
    describeError(new TypeError('fetch failed', { cause: refused })),
    'TypeError: fetch failed (connect ECONNREFUSED 127.0.0.1:9)',
  );
  const octokit = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
    name: 'HttpError',
    cause: new TypeError('fetch failed', { cause: refused }),
  });
  assert.equal(describeError(octokit), 'HttpError: connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(
    describeError({ message: 'fetch failed', requestEndpoint: 'HEAD http://h/o' }),
    'fetch failed',
  );
  assert.equal(describeError(errno('ENOSPC', 'no space left on device')), 'ENOSPC: no space left on device');
  assert.equal(describeError(new Error('first line\n<xml>details</xml>')), 'first line');
  assert.equal(describeError('a string'), 'a string');
});

test('StorageError: a permanent failure exits 1, a configuration error 2, a retryable one 1', () => {
  assert.equal(new StorageError('x', { retryable: false }).exitCode, 2);
  assert.equal(new StorageError('x', { retryable: false, kind: 'config' }).exitCode, 2);
  const permanent = new StorageError('x', { retryable: false, kind: 'permanent' });
  assert.equal(permanent.exitCode, 1);
  assert.equal(permanent.retryable, false);
  assert.equal(new StorageError('x', { retryable: true }).exitCode, 1);
});

test('upload: an error that will not pass is not retried and ends as a StorageError (ENOSPC 1, EACCES and SDK errors 2)', async () => {
  const run = await sealedRun(await fresh('run'));
  const cases: [string, Error, number][] = [
    ['ENOSPC', errno('ENOSPC', 'ENOSPC: no space left on device, copyfile'), 1],
    ['EACCES', errno('EACCES', 'EACCES: permission denied, open'), 2],
    ['TypeError', new TypeError('Cannot read properties of undefined'), 2],
    ['credentials', Object.assign(new Error('no credentials'), { name: 'CredentialsProviderError' }), 2],
  ];
  for (const [name, thrown, exitCode] of cases) {
    const store = wrapPuts(await fileStore(await fresh('store')), async () => {
      throw thrown;
    });
    const retries: string[] = [];
    const started = Date.now();
    const error = await refusal(
      uploadRunFolder(run, store, { retry: PATIENT, onRetry: (key) => retries.push(key) }),
    );
    assert.equal(error.retryable, false, name);
    assert.equal(error.exitCode, exitCode, name);
    assert.ok(error.message.includes(thrown.message), error.message);
    assert.deepEqual(retries, [], `${name} was not retried`);
    assert.ok(Date.now() - started < 5_000, `${name} failed at once`);
    await store.close();
  }
});

test('upload: a dropped connection is retried and the upload completes', async () => {
  const run = await sealedRun(await fresh('run'));
  const store = wrapPuts(await fileStore(await fresh('store')), async (_object, n) => {
    if (n === 2) throw errno('ECONNRESET', 'read ECONNRESET');
  });
  const retries: string[] = [];
  const result = await uploadRunFolder(run, store, { retry: PATIENT, onRetry: (key) => retries.push(key) });
  assert.equal(retries.length, 1);
  assert.equal(result.uploaded, result.objects);
});

test('upload: after one put fails, the puts in flight finish before the upload rejects', async () => {
  const run = await sealedRun(await fresh('run'));
  let inFlight = 0;
  let finished = 0;
  const store = wrapPuts(await fileStore(await fresh('store')), async (object) => {
    if (object.key.endsWith('notes.txt')) throw errno('EACCES');
    inFlight++;
    await new Promise((resolve) => setTimeout(resolve, 200));
    inFlight--;
    finished++;
  });
  await refusal(uploadRunFolder(run, store, { parallel: 4, retry: PATIENT }));
  assert.equal(inFlight, 0, 'no put is left running when the upload rejects');
  assert.ok(finished > 0, 'the other puts were in flight and finished');
});

test('upload: a file changed after the run was verified is refused, not shipped under its new digest', async () => {
  const run = await sealedRun(await fresh('run'));
  const root = await fresh('store');
  // The first put changes run.json, which goes after it (artifacts go in manifest order).
  const store = wrapPuts(await fileStore(root), async (_object, n) => {
    if (n === 1) await writeFile(join(run, 'run.json'), '{"run_id":"run-1","plan":[]}\n');
  });
  const error = await refusal(uploadRunFolder(run, store, { parallel: 1, retry: PATIENT }));
  assert.equal(error.retryable, false);
  assert.equal(error.exitCode, 2);
  assert.match(error.message, /run\.json changed after the run was sealed/);
  assert.ok(!existsSync(join(root, 'run-1', 'run.json')), 'the changed file is not in the store');
  assert.ok(!existsSync(join(root, 'run-1', MANIFEST_DIGEST_FILE)), 'the store does not hold a whole run');
});

test('upload: a manifest listing a path outside the run folder is refused before anything is sent', async () => {
  for (const unsafe of ['../outside.txt', 'iterations/../../outside.txt']) {
    const parent = await fresh('crafted');
    const run = join(parent, 'run');
    const folder = await RunFolder.create(run);
    await folder.writeJson('run.json', { run_id: 'run-x', plan: [] });
    await writeFile(join(parent, 'outside.txt'), 'not evidence\n');
    await craftSeal(run, 'run-x', ['run.json', unsafe]);
    const root = await fresh('store');
    // verify names the path first (the run does not verify); the uploader refuses it too.
    const error = await rejection(uploadRunFolder(run, await fileStore(root), { retry: PATIENT }));
    assert.ok(!(error instanceof StorageError) || !error.retryable, unsafe);
    assert.equal(error.exitCode, 2, unsafe);
    assert.ok(error.message.includes(unsafe), error.message);
    assert.deepEqual(await readdir(root), [], `${unsafe}: nothing was written`);
  }
});

test('upload: a run_id or folder with a .., . or empty segment is refused', async () => {
  for (const runId of ['../escape', 'a//b', '']) {
    const run = join(await fresh('crafted'), 'run');
    const folder = await RunFolder.create(run);
    await folder.writeJson('run.json', { run_id: runId, plan: [] });
    await craftSeal(run, runId, ['run.json']);
    const root = await fresh('store');
    const error = await refusal(uploadRunFolder(run, await fileStore(root)));
    assert.equal(error.exitCode, 2, runId);
    assert.match(error.message, /run_id/, runId);
    assert.deepEqual(await readdir(root), [], `${runId}: nothing was written`);
  }
  const run = await sealedRun(await fresh('run'));
  for (const bad of ['../up', 'a//b', 'a/./b', '/abs', 'trailing/']) {
    const root = await fresh('store');
    const error = await refusal(uploadRunFolder(run, await fileStore(root), { folder: bad }));
    assert.equal(error.exitCode, 2, bad);
    assert.ok(error.message.includes(JSON.stringify(bad)), error.message);
    assert.deepEqual(await readdir(root), [], `${bad}: nothing was written`);
  }
});

test('download: a stored manifest listing a path outside the run folder is refused; nothing lands outside', async () => {
  for (const unsafe of ['../escape.txt', '/etc/escape.txt', 'a\\..\\..\\escape.txt', 'iterations//x']) {
    const root = await fresh('store');
    const stored = join(root, 'run-x');
    await mkdir(stored, { recursive: true });
    await writeFile(join(stored, 'run.json'), '{"run_id":"run-x","plan":[]}\n');
    await writeFile(join(root, 'escape.txt'), 'planted\n');
    const manifest = {
      schema_version: MANIFEST_SCHEMA_VERSION,
      kind: 'run',
      run_id: 'run-x',
      status: 'complete',
      sealed_at: new Date().toISOString(),
      artifacts: [
        ...(await describeArtifacts(stored, ['run.json'])),
        { path: unsafe, size_bytes: 8, sha256: sha256('planted\n') },
      ],
    };
    const text = canonicalJson(manifest);
    await writeFile(join(stored, MANIFEST_FILE), text);
    await writeFile(join(stored, MANIFEST_DIGEST_FILE), `${sha256(text)}\n`);
    const parent = await fresh('download');
    const dest = join(parent, 'run');
    const error = await refusal(downloadRun(await fileStore(root), 'run-x', dest, { retry: PATIENT }));
    assert.equal(error.retryable, false, unsafe);
    assert.equal(error.exitCode, 2, unsafe);
    assert.ok(error.message.includes(JSON.stringify(unsafe)), error.message);
    assert.deepEqual(await readdir(parent), ['run'], `${unsafe}: nothing beside the destination`);
    assert.deepEqual((await readdir(dest)).sort(), [MANIFEST_FILE, MANIFEST_DIGEST_FILE], unsafe);
  }
});

test('download: a run prefix with a .., . or empty segment is refused before the store is asked', async () => {
  const root = await fresh('store');
  const store = await fileStore(root);
  for (const prefix of ['../run-1', 'runs/../run-1', 'runs//run-1', './run-1', '/run-1', '']) {
    const dest = join(await fresh('download'), 'run');
    const error = await refusal(downloadRun(store, prefix, dest));
    assert.equal(error.exitCode, 2, prefix);
    assert.ok(!existsSync(dest), `${prefix}: nothing was written`);
  }
});

test('download: a run that uploads whole reads back complete; one altered in the store is reported corrupt, not thrown', async () => {
  const run = await sealedRun(await fresh('run'));
  const root = await fresh('store');
  const store = await fileStore(root);
  const uploaded = await uploadRunFolder(run, store, { folder: 'nightly' });
  assert.equal(uploaded.prefix, 'nightly/run-1');
  const back = await downloadRun(store, uploaded.prefix, join(await fresh('download'), 'run'));
  assert.equal(back.status, 'complete', JSON.stringify(back.problems));
  assert.equal(back.artifact_manifest_digest, uploaded.artifact_manifest_digest);

  await writeFile(join(root, 'nightly', 'run-1', 'notes.txt'), 'altered in the store\n');
  const altered = await downloadRun(store, uploaded.prefix, join(await fresh('download'), 'run'));
  assert.equal(altered.status, 'corrupt');
  assert.ok(
    altered.problems.some((p) => p.path === 'notes.txt'),
    JSON.stringify(altered.problems),
  );
});
