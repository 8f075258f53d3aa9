/**
 * The `github://` store against `@octokit/rest` talking to a loopback server that
 * implements the subset of GitHub's REST API for releases and assets that infermark
 * uses (`testing/fake-github.ts`). That server is the closest real thing that runs
 * here: no GitHub API emulator installs from npm or Debian, and the real API is out
 * of reach. It keeps the semantics the store relies on: the token, 422 on a
 * duplicate asset name and on an empty asset, asset renaming, `digest`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { assetName, createStore, keyOfAsset } from './github.js';
import { fileToPut, locationOf, objectStoreContract } from './testing/object-store.case.js';
import type { ObjectStore } from './object-store.js';
import { StorageError } from './storage-error.js';
import { startFakeGithub, type FakeGithub } from './testing/fake-github.js';

// Shaped like a classic token so the redactor's pattern would catch it too; the test
// checks the value never reaches a message.
const TOKEN = 'ghp_infermarkTestToken0123456789abcdefAB';

let github: FakeGithub;
let dir: string;

before(async () => {
  github = await startFakeGithub({
    token: TOKEN,
    repos: [
      { owner: 'acme', repo: 'bench', releases: ['v0.9.0', 'v1.0.0'] },
      { owner: 'acme', repo: 'history', releases: ['v0.9.0', 'v1.0.0'] },
      { owner: 'acme', repo: 'empty' },
      { owner: 'acme', repo: 'readonly', push: false, releases: ['v1'] },
    ],
    // Pages of 2 make every listing of the contract walk several pages.
    maxPerPage: 2,
  });
  dir = await mkdtemp(join(tmpdir(), 'infermark-github-'));
});

after(async () => {
  await github.stop();
  await rm(dir, { recursive: true, force: true });
});

function open(
  uri: string,
  parameters: Record<string, string> = { github_token: TOKEN },
  env = {},
): Promise<ObjectStore> {
  return createStore({
    location: locationOf(uri, 'github'),
    parameters: { github_api_url: github.url, ...parameters },
    env,
  });
}

async function failureOf(action: () => Promise<unknown>): Promise<StorageError> {
  const error = await action().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
  return error;
}

function release(repo: string, tag: string) {
  return github.releases('acme', repo).find((r) => r.tag === tag);
}

objectStoreContract('github', { store: () => open('github://acme/bench@contract') });

test('github: keys map to asset names GitHub keeps, and back', () => {
  for (const key of [
    '01J0RUN/iterations/000/requests.jsonl',
    'run_id/a__b/x',
    '.hidden/x.',
    'a b/ü+1',
    'a/0',
    'x',
  ]) {
    const name = assetName(key);
    assert.match(name, /^[A-Za-z0-9._-]+$/);
    assert.ok(!name.startsWith('.') && !name.endsWith('.'), name);
    assert.deepEqual(keyOfAsset(name), { key, empty: false });
    assert.deepEqual(keyOfAsset(assetName(key, true)), { key, empty: true });
  }
  assert.equal(
    assetName('01J0RUN/iterations/000/requests.jsonl'),
    '01J0RUN__iterations__000__requests.jsonl',
  );
  // Assets named by hand: plain names read as themselves, names with stray `_` are not ours.
  assert.deepEqual(keyOfAsset('setup.tar.gz'), { key: 'setup.tar.gz', empty: false });
  assert.equal(keyOfAsset('my_file.zip'), null);
});

test('github: a tag without a release gets one, published', async () => {
  const store = await open('github://acme/bench@v2.0.0');
  try {
    await store.preflight();
    const created = release('bench', 'v2.0.0');
    assert.ok(created);
    assert.equal(created.draft, false);
  } finally {
    await store.close();
  }
});

test('github: without a tag the latest release is used', async () => {
  const store = await open('github://acme/history');
  try {
    await store.preflight();
    await store.put(await fileToPut(dir, 'latest-run/run.json', '{"latest":true}\n'));
    assert.deepEqual(
      release('history', 'v1.0.0')?.assets.map((a) => a.name),
      ['latest-run__run.json'],
    );
    assert.equal(release('history', 'v0.9.0')?.assets.length, 0);
    assert.equal((await store.head('latest-run/run.json'))?.size_bytes, 16);
  } finally {
    await store.close();
  }
});

test('github: a server without asset digests gives head no sha256', async () => {
  const old = await startFakeGithub({
    token: TOKEN,
    repos: [{ owner: 'acme', repo: 'bench' }],
    digests: false,
  });
  const store = await createStore({
    location: locationOf('github://acme/bench@v1', 'github'),
    parameters: { github_token: TOKEN, github_api_url: old.url },
    env: {},
  });
  try {
    const object = await fileToPut(dir, 'r9/run.json', '{}\n');
    await store.put(object);
    assert.deepEqual(await store.head(object.key), { key: object.key, size_bytes: 3, sha256: null });
  } finally {
    await store.close();
    await old.stop();
  }
});

test('github: without a tag and with no release, preflight says to name one', async () => {
  const store = await open('github://acme/empty');
  try {
    const error = await failureOf(() => store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /github:\/\/acme\/empty@TAG/);
  } finally {
    await store.close();
  }
});

test('github: putting the same key again keeps the asset; changed bytes replace it', async () => {
  const store = await open('github://acme/bench@idempotent');
  try {
    const object = await fileToPut(dir, 'r1/iterations/000/requests.jsonl', '{"a":1}\n');
    await store.put(object);
    const assets = () => release('bench', 'idempotent')?.assets ?? [];
    const first = assets().map((a) => ({ id: a.id, name: a.name }));
    await store.put(object);
    // A second store sees the asset GitHub already has (no cache shared).
    const again = await open('github://acme/bench@idempotent');
    await again.put(object);
    await again.close();
    assert.deepEqual(
      assets().map((a) => ({ id: a.id, name: a.name })),
      first,
    );
    const changed = await fileToPut(dir, 'r1/iterations/000/requests.jsonl', '{"a":2}\n{"a":3}\n');
    await store.put(changed);
    assert.equal(assets().length, first.length);
    assert.notEqual(assets()[0]?.id, first[0]?.id);
    assert.equal((await store.head(changed.key))?.sha256, changed.sha256);
    const back = join(dir, 'idempotent-back');
    await store.get(changed.key, back);
    assert.equal(await readFile(back, 'utf8'), '{"a":2}\n{"a":3}\n');
  } finally {
    await store.close();
  }
});

test('github: an empty object is kept as a placeholder and reads back empty', async () => {
  const store = await open('github://acme/bench@empty-objects');
  try {
    const object = await fileToPut(dir, 'r2/metrics.prom', '');
    await store.put(object);
    const head = await store.head(object.key);
    assert.deepEqual(head, { key: object.key, size_bytes: 0, sha256: object.sha256 });
    // The key filled later replaces the placeholder.
    await store.put(await fileToPut(dir, 'r2/metrics.prom', 'up 1\n'));
    assert.equal((await store.head(object.key))?.size_bytes, 5);
    assert.deepEqual(
      (release('bench', 'empty-objects')?.assets ?? []).map((a) => a.name),
      ['r2__metrics.prom'],
    );
  } finally {
    await store.close();
  }
});

test('github: without a token every call is a configuration error', async () => {
  const store = await open('github://acme/bench@v1.0.0', {});
  try {
    const error = await failureOf(() => store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /parameters\.github_token is required/);
  } finally {
    await store.close();
  }
  // The token may come from the environment instead.
  const fromEnv = await open('github://acme/bench@v1.0.0', {}, { GH_TOKEN: TOKEN });
  await fromEnv.preflight();
  await fromEnv.close();
});

test('github: a refused token is a configuration error that does not quote it', async () => {
  const wrong = 'ghp_wrongTokenForInfermarkTests0123456789';
  const store = await open('github://acme/bench@v1.0.0', { github_token: wrong });
  try {
    const error = await failureOf(() => store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /refused the token \(401\)/);
    assert.ok(!error.message.includes(wrong));
    assert.ok(!inspect(error).includes(wrong));
  } finally {
    await store.close();
  }
});

test('github: preflight on a missing repository or a read-only token names it', async () => {
  const missing = await open('github://acme/no-such-repo@v1');
  const error = await failureOf(() => missing.preflight());
  await missing.close();
  assert.equal(error.retryable, false);
  assert.equal(error.exitCode, 2);
  assert.match(error.message, /acme\/no-such-repo/);
  const readonly = await open('github://acme/readonly@v1');
  const refused = await failureOf(() => readonly.preflight());
  await readonly.close();
  assert.match(refused.message, /cannot write to acme\/readonly/);
});
