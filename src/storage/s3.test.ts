/**
 * The s3:// store against s3rver on loopback (started here, stopped at the end):
 * the storage contract, where keys land under the URI's prefix, multipart files,
 * where credentials come from, what preflight says when the bucket or the
 * credentials are wrong, and how the uploader will classify the SDK's errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  fileToPut,
  locationOf,
  objectStoreContract,
  rejectsWithStorageError,
  withStore,
} from './testing/object-store.case.js';
import type { ObjectStore } from './object-store.js';
import { createStore, MULTIPART_THRESHOLD_BYTES, PART_SIZE_BYTES } from './s3.js';
import { httpStatusOf, isRetryable } from './storage-error.js';
import { startS3rver, type S3rverHandle } from './testing/s3rver.js';

let server: S3rverHandle;
let dir: string;

before(async () => {
  server = await startS3rver();
  dir = await mkdtemp(join(tmpdir(), 'infermark-s3-test-'));
});

after(async () => {
  await server.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function openS3(
  uri: string,
  parameters: Record<string, string> = server.parameters(),
  env: Record<string, string | undefined> = {},
): Promise<ObjectStore> {
  return createStore({ location: locationOf(uri, 's3'), parameters, env });
}

/** Every key in the bucket, as S3 itself names them (not through the store). */
async function rawKeys(prefix = ''): Promise<string[]> {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  try {
    const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((item) => item.Key ?? '').sort();
  } finally {
    client.destroy();
  }
}

objectStoreContract('s3', { store: () => openS3('s3://bench/contract') });

test('s3: keys land under the URI prefix and come back relative to it', async () => {
  const object = await fileToPut(dir, 'run-1/run.json', '{"run_id":"run-1"}\n');
  await withStore(await openS3('s3://bench@us-east-1/a/b'), async (store) => {
    await store.put(object);
    assert.deepEqual(
      (await store.list('')).map((o) => o.key),
      ['run-1/run.json'],
    );
    assert.equal((await store.head('run-1/run.json'))?.sha256, object.sha256);
  });
  assert.deepEqual(await rawKeys('a/'), ['a/b/run-1/run.json']);
  await withStore(await openS3('s3://bench/a'), async (store) => {
    assert.deepEqual(
      (await store.list('')).map((o) => o.key),
      ['b/run-1/run.json'],
    );
  });
  // A sibling prefix that starts with the same letters sees nothing of a/b.
  await withStore(await openS3('s3://bench/a/bc'), async (store) => {
    assert.deepEqual(await store.list(''), []);
    assert.equal(await store.head('run-1/run.json'), null);
  });
  // At the bucket's root the key has no leading slash.
  await withStore(await openS3('s3://bench'), async (store) => {
    await store.put(await fileToPut(dir, 'root-run/run.json', '{}\n'));
  });
  assert.deepEqual(await rawKeys('root-run'), ['root-run/run.json']);
});

test('s3: a file above the multipart threshold goes in parts and comes back whole', async () => {
  const size = MULTIPART_THRESHOLD_BYTES + PART_SIZE_BYTES / 2 + 3;
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) % 251;
  const object = await fileToPut(dir, 'multi/big.bin', bytes);
  await withStore(await openS3('s3://bench/mp'), async (store) => {
    await store.put(object);
    const head = await store.head('multi/big.bin');
    assert.equal(head?.size_bytes, size);
    assert.equal(head?.sha256, object.sha256);
    const back = join(dir, 'big-back.bin');
    await store.get('multi/big.bin', back);
    assert.ok((await readFile(back)).equals(bytes));
  });
  assert.deepEqual(await rawKeys('mp/'), ['mp/multi/big.bin']);
});

test('s3: list follows continuation tokens past one page of 1000 keys', async () => {
  const object = await fileToPut(dir, 'page-0', 'x');
  await withStore(await openS3('s3://bench/paged'), async (store) => {
    const keys = Array.from({ length: 1003 }, (_, i) => `run/k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((key) => store.put({ ...object, key })));
    }
    const listed = (await store.list('run/')).map((o) => o.key).sort();
    assert.deepEqual(listed, keys);
  });
});

test('s3: preflight on a missing bucket is a config error that names the bucket', async () => {
  await withStore(await openS3('s3://no-such-bucket/x'), async (store) => {
    const error = await rejectsWithStorageError(store.preflight());
    assert.equal(error.retryable, false);
    assert.equal(error.code, 'E_STORAGE_CONFIG');
    assert.match(error.message, /^s3:\/\/no-such-bucket\/x: bucket no-such-bucket does not exist/);
  });
});

test('s3: preflight with refused credentials says so, without quoting them', async () => {
  // s3rver checks the key id of a SigV4 request, not its signature: an unknown id is refused.
  const keyId = 'AKIAWRONGKEYID0000';
  const secret = 'wrong-secret-value-1234';
  const parameters = {
    aws_endpoint_url: server.endpoint,
    aws_access_key_id: keyId,
    aws_secret_access_key: secret,
  };
  await withStore(await openS3('s3://bench/x', parameters), async (store) => {
    const error = await rejectsWithStorageError(store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /credentials refused \(403\) for bucket bench/);
    assert.match(error.message, /aws_access_key_id/);
    assert.ok(!error.message.includes(secret) && !error.message.includes(keyId));
  });
});

test('s3: credentials from aws_access_key_id_file / aws_secret_access_key_file work', async () => {
  const idFile = join(dir, 'aws_access_key_id');
  const secretFile = join(dir, 'aws_secret_access_key');
  await writeFile(idFile, `${server.accessKeyId}\n`);
  await writeFile(secretFile, `${server.secretAccessKey}\n`);
  const parameters = {
    aws_endpoint_url: server.endpoint,
    aws_access_key_id_file: idFile,
    aws_secret_access_key_file: secretFile,
  };
  await withStore(await openS3('s3://bench/from-files', parameters), async (store) => {
    await store.preflight();
    await store.put(await fileToPut(dir, 'r/run.json', '{}\n'));
    assert.equal((await store.head('r/run.json'))?.size_bytes, 3);
  });
});

test('s3: endpoint and credentials from the environment work', async () => {
  const env = {
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: 'eu-west-1',
  };
  await withStore(await openS3('s3://bench/from-env', {}, env), (store) => store.preflight());
});

test('s3: a half key pair and a bad path-style flag are refused before any request', async () => {
  const half = await rejectsWithStorageError(
    openS3('s3://bench/x', { aws_access_key_id: 'AKIAEXAMPLE12345' }),
  );
  assert.match(half.message, /aws_access_key_id and aws_secret_access_key must be given together/);
  const flag = await rejectsWithStorageError(
    openS3('s3://bench/x', { ...server.parameters(), aws_force_path_style: 'yes' }),
  );
  assert.match(flag.message, /aws_force_path_style: expected "true" or "false"/);
  const endpoint = await rejectsWithStorageError(openS3('s3://bench/x', { aws_endpoint_url: 'not a url' }));
  assert.equal(endpoint.retryable, false);
});

test('s3: a profile that does not exist is a config error that names it', async () => {
  const empty = join(dir, 'empty-aws-config');
  await writeFile(empty, '');
  // The SDK reads these from process.env itself: point it at empty files and no instance metadata.
  const overrides = {
    AWS_CONFIG_FILE: empty,
    AWS_SHARED_CREDENTIALS_FILE: empty,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const saved = Object.fromEntries(Object.keys(overrides).map((name) => [name, process.env[name]]));
  Object.assign(process.env, overrides);
  try {
    const parameters = { aws_endpoint_url: server.endpoint, aws_profile: 'infermark-no-such-profile' };
    await withStore(await openS3('s3://bench/x', parameters), async (store) => {
      const error = await rejectsWithStorageError(store.preflight());
      assert.equal(error.retryable, false);
      assert.match(
        error.message,
        /no AWS credentials could be loaded \(profile "infermark-no-such-profile"\)/,
      );
    });
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test('s3: SDK errors classify as the uploader expects; a restarted server keeps its objects', async () => {
  const object = await fileToPut(dir, 'cls/run.json', '{"a":1}\n');
  await withStore(await openS3('s3://bench/classify'), async (store) => {
    await store.put(object);
    const missing = await store.get('cls/none.json', join(dir, 'none')).then(
      () => assert.fail('expected an error'),
      (error: unknown) => error,
    );
    assert.equal(httpStatusOf(missing), 404);
    assert.equal(isRetryable(missing), false);

    await server.stop();
    try {
      const down = await store.head('cls/run.json').then(
        () => assert.fail('expected an error'),
        (error: unknown) => error,
      );
      assert.equal(isRetryable(down), true, `connection refused is retryable: ${String(down)}`);
      const preflight = await rejectsWithStorageError(store.preflight());
      assert.equal(preflight.retryable, true);
      assert.match(preflight.message, /cannot reach bucket bench at http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await server.restart();
    }
    assert.equal((await store.head('cls/run.json'))?.sha256, object.sha256);
  });
});
