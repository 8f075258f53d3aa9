/**
 * The `oci://` store against Oracle's `oci-objectstorage` client talking to a
 * loopback server that implements the subset of the Object Storage API infermark
 * uses (`testing/fake-oci.ts`). That server is the closest real thing that runs
 * here: Oracle ships no Object Storage emulator, and none installs from npm or
 * Debian. It verifies every request's HTTP signature against the public half of an
 * RSA key pair made by the test, so the real client, its config-file reading and its
 * request signing are exercised. Instance principal and on-behalf-of signing need an
 * OCI instance's metadata service and are not run here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { simulatorFixture } from '../cli/testing/harness.js';
import { fileToPut, locationOf, objectStoreContract } from './testing/object-store.case.js';
import type { ObjectStore } from './object-store.js';
import { createStore } from './oci.js';
import { StorageError } from './storage-error.js';
import { startFakeOci, type FakeOci } from './testing/fake-oci.js';
import { runUploadDownloadAlter } from '../cli/testing/run-round-trip.case.js';

const TENANCY = 'ocid1.tenancy.oc1..infermarktest';
const USER = 'ocid1.user.oc1..infermarktest';
const FINGERPRINT = '12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0';
const API_KEY_ID = `${TENANCY}/${USER}/${FINGERPRINT}`;
const SESSION_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.session-token-for-tests.c2lnbmF0dXJl';

let oci: FakeOci;
let dir: string;
let configFile: string;
let sessionKeyFile: string;
let apiKeyFile: string;

function pemPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

// The simulator serves the real run whose folder is uploaded; the store tests only need the server.
const { sim, tmp } = simulatorFixture(
  'infermark-oci-',
  { ttftMs: 5, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 },
  { setUp, tearDown },
);

async function setUp(): Promise<void> {
  dir = join(tmp(), 'oci');
  await mkdir(dir);
  const apiKey = pemPair();
  const sessionKey = pemPair();
  const keyFile = join(dir, 'oci_api_key.pem');
  apiKeyFile = keyFile;
  sessionKeyFile = join(dir, 'session_key.pem');
  await writeFile(keyFile, apiKey.privateKey, { mode: 0o600 });
  await writeFile(sessionKeyFile, sessionKey.privateKey, { mode: 0o600 });
  configFile = join(dir, 'config');
  await writeFile(
    configFile,
    [
      '[DEFAULT]',
      `user=${USER}`,
      `fingerprint=${FINGERPRINT}`,
      `tenancy=${TENANCY}`,
      'region=us-phoenix-1',
      `key_file=${keyFile}`,
      '',
    ].join('\n'),
  );
  oci = await startFakeOci({
    namespace: 'infermark',
    buckets: ['bench'],
    keys: { [API_KEY_ID]: apiKey.publicKey, [`ST$${SESSION_TOKEN}`]: sessionKey.publicKey },
    // A page of 2 makes the contract's listing of 4 objects walk several pages.
    pageSize: 2,
  });
}

async function tearDown(): Promise<void> {
  await oci?.stop();
}

function open(
  uri: string,
  parameters: Record<string, string> = {},
  env: Record<string, string> = {},
): Promise<ObjectStore> {
  return createStore({
    location: locationOf(uri, 'oci'),
    parameters: { endpoint: oci.endpoint, ...parameters },
    env: { HOME: dir, ...env },
  });
}

function userPrincipal(uri: string): Promise<ObjectStore> {
  return open(uri, { auth: 'user_principal', config_file: configFile });
}

async function failureOf(action: () => Promise<unknown>): Promise<StorageError> {
  const error = await action().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
  return error;
}

objectStoreContract('oci', { store: () => userPrincipal('oci://n/infermark/b/bench/o/results/nightly') });

test('oci: every request is signed with the config file key, objects carry their metadata', async () => {
  const store = await userPrincipal('oci://n/infermark/b/bench/o/signed');
  try {
    const before = oci.signedBy.length;
    const object = await fileToPut(dir, 'r1/run.json', '{"x":1}\n');
    await store.put(object);
    assert.ok(await store.head(object.key));
    const signers = oci.signedBy.slice(before);
    assert.ok(signers.length >= 2);
    assert.ok(signers.every((keyId) => keyId === API_KEY_ID));
    const stored = oci.objects('bench').get('signed/r1/run.json');
    assert.equal(stored?.meta['opc-meta-sha256'], object.sha256);
    assert.equal(stored?.contentType, 'application/json');
  } finally {
    await store.close();
  }
});

test('oci: a config file found at ~/.oci/config is used when no auth is given', async () => {
  const home = await mkdtemp(join(tmpdir(), 'infermark-oci-home-'));
  try {
    await mkdir(join(home, '.oci'));
    await copyFile(configFile, join(home, '.oci', 'config'));
    const store = await open('oci://n/infermark/b/bench/o/default-auth', {}, { HOME: home });
    try {
      await store.preflight();
    } finally {
      await store.close();
    }
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('oci: security_token auth signs as ST$<token> with the session key', async () => {
  const store = await open('oci://n/infermark/b/bench/o/session', {
    auth: 'security_token',
    security_token: SESSION_TOKEN,
    private_key_file: sessionKeyFile,
    region: 'us-ashburn-1',
  });
  try {
    await store.preflight();
    await store.put(await fileToPut(dir, 'r2/a.txt', 'abc'));
    assert.equal((await store.head('r2/a.txt'))?.size_bytes, 3);
    assert.equal(oci.signedBy.at(-1), `ST$${SESSION_TOKEN}`);
  } finally {
    await store.close();
  }
});

test('oci: a refused token is a configuration error that does not quote it', async () => {
  const wrongToken = 'eyJhbGciOiJSUzI1NiJ9.not-a-token-the-server-knows.c2ln';
  const store = await open('oci://n/infermark/b/bench/o/session', {
    auth: 'security_token',
    security_token: wrongToken,
    private_key_file: sessionKeyFile,
    region: 'us-ashburn-1',
  });
  try {
    const error = await failureOf(() => store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /refused the credentials \(401\)/);
    assert.ok(!error.message.includes(wrongToken));
    assert.ok(!inspect(error).includes(wrongToken));
  } finally {
    await store.close();
  }
});

test('oci: a known key id signed with another key is refused (the server checks signatures)', async () => {
  const store = await open('oci://n/infermark/b/bench/o/session', {
    auth: 'security_token',
    security_token: SESSION_TOKEN,
    private_key_file: apiKeyFile,
    region: 'us-ashburn-1',
  });
  try {
    const error = await failureOf(() => store.preflight());
    assert.match(error.message, /\(401\)/);
    assert.ok(!inspect(error).includes(SESSION_TOKEN));
  } finally {
    await store.close();
  }
});

test('oci: bytes that do not match Content-MD5 are refused and not stored', async () => {
  const store = await userPrincipal('oci://n/infermark/b/bench/o/md5');
  try {
    const object = await fileToPut(dir, 'r3/run.json', '{"y":2}\n');
    const error = await failureOf(() =>
      store.put({ ...object, md5_base64: createHash('md5').update('other').digest('base64') }),
    );
    assert.equal(error.retryable, false);
    assert.equal(oci.objects('bench').has('md5/r3/run.json'), false);
  } finally {
    await store.close();
  }
});

test('oci: preflight on a missing bucket is a configuration error naming it', async () => {
  const store = await userPrincipal('oci://n/infermark/b/no-such-bucket/o/x');
  try {
    const error = await failureOf(() => store.preflight());
    assert.equal(error.retryable, false);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /no-such-bucket/);
  } finally {
    await store.close();
  }
});

test('oci: without auth or a config file, preflight says what to set', async () => {
  const store = await open('oci://n/infermark/b/bench/o/x');
  try {
    const error = await failureOf(() => store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /parameters\.auth/);
  } finally {
    await store.close();
  }
  const unknown = await open('oci://n/infermark/b/bench/o/x', { auth: 'password' });
  assert.match((await failureOf(() => unknown.preflight())).message, /"password" is not one of/);
  await unknown.close();
  const obo = await open('oci://n/infermark/b/bench/o/x', { auth: 'instance_obo_user' });
  assert.match((await failureOf(() => obo.preflight())).message, /delegation_token/);
  await obo.close();
});

test('oci: a real run uploads to its outputLocation; download reads it back, every digest verifies, an altered object is named', async () => {
  const storageUri = 'oci://n/infermark/b/bench/o/experiments';
  const before = oci.signedBy.length;
  const printed = await runUploadDownloadAlter({
    name: 'to-oci',
    storageUri,
    params: { endpoint: oci.endpoint, auth: 'user_principal', config_file: configFile },
    simUrl: sim().url,
    tmp: tmp(),
    objects: () => oci.objects('bench'),
    storedSha256: (object) => object.meta['opc-meta-sha256'],
    openStore: () => userPrincipal(storageUri),
  });
  // Every request of the upload and the download was signed with the config file's key.
  const signers = oci.signedBy.slice(before);
  assert.ok(signers.length > printed.upload.objects, `${signers.length} signed requests`);
  assert.ok(signers.every((keyId) => keyId === API_KEY_ID));
});
