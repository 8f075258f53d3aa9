/**
 * The az:// store against azurite's blob service on loopback (started here,
 * stopped at the end): the storage contract, where blobs land under the URI's
 * prefix, each way of giving credentials (account key, connection string, account
 * and container SAS), what preflight says when the container or the credentials
 * are wrong, and how the uploader will classify the SDK's errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  ContainerSASPermissions,
  generateAccountSASQueryParameters,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { createStore } from './az.js';
import {
  caught,
  fileToPut,
  locationOf,
  objectStoreContract,
  rejectsWithStorageError,
  withStore,
} from './testing/object-store.case.js';
import type { ObjectStore } from './object-store.js';
import { httpStatusOf, isRetryable } from './storage-error.js';
import { startAzurite, type AzuriteHandle } from './testing/azurite.js';

const CONTAINER = 'bench';
let server: AzuriteHandle;
let dir: string;

before(async () => {
  server = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'infermark-az-test-'));
  await service().getContainerClient(CONTAINER).create();
});

after(async () => {
  await server.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A client of our own (not the store's), to set things up and look at what the store wrote. */
function service(): BlobServiceClient {
  return new BlobServiceClient(server.blobEndpoint, sharedKey());
}

function sharedKey(): StorageSharedKeyCredential {
  return new StorageSharedKeyCredential(server.account, server.key);
}

async function openAz(
  uri: string,
  parameters: Record<string, string> = server.parameters(),
  env: Record<string, string | undefined> = {},
): Promise<ObjectStore> {
  return createStore({ location: locationOf(uri, 'az'), parameters, env });
}

async function rawNames(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of service().getContainerClient(CONTAINER).listBlobsFlat({ prefix }))
    names.push(blob.name);
  return names.sort();
}

/** An hour either side of now: azurite and the test share a clock, but not to the second. */
function validity(): { startsOn: Date; expiresOn: Date } {
  return { startsOn: new Date(Date.now() - 3_600_000), expiresOn: new Date(Date.now() + 3_600_000) };
}

objectStoreContract('az', { store: () => openAz(`az://devstoreaccount1/${CONTAINER}/contract`) });

test('az: blobs land under the URI prefix and come back relative to it', async () => {
  const object = await fileToPut(dir, 'run-1/run.json', '{"run_id":"run-1"}\n');
  await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}/a/b`), async (store) => {
    await store.put(object);
    const listed = await store.list('');
    assert.deepEqual(
      listed.map((o) => [o.key, o.sha256]),
      [['run-1/run.json', object.sha256]],
    );
  });
  assert.deepEqual(await rawNames('a/'), ['a/b/run-1/run.json']);
  await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}/a/bc`), async (store) => {
    assert.deepEqual(await store.list(''), []);
    assert.equal(await store.head('run-1/run.json'), null);
  });
  await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}`), async (store) => {
    await store.put(await fileToPut(dir, 'root-run/run.json', '{}\n'));
  });
  assert.deepEqual(await rawNames('root-run'), ['root-run/run.json']);
});

test('az: preflight on a missing container is a config error that names it', async () => {
  await withStore(await openAz('az://devstoreaccount1/no-such-container/x'), async (store) => {
    const error = await rejectsWithStorageError(store.preflight());
    assert.equal(error.retryable, false);
    assert.equal(error.code, 'E_STORAGE_CONFIG');
    assert.match(error.message, /container no-such-container does not exist in account devstoreaccount1/);
  });
});

test('az: preflight with a wrong key says the credentials were refused, without quoting the key', async () => {
  const wrongKey = Buffer.alloc(64, 3).toString('base64');
  const parameters = { azure_blob_endpoint: server.blobEndpoint, azure_account_key: wrongKey };
  await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}/x`, parameters), async (store) => {
    const error = await rejectsWithStorageError(store.preflight());
    assert.equal(error.retryable, false);
    assert.match(error.message, /credentials refused \(403/);
    assert.ok(!error.message.includes(wrongKey));
  });
});

test('az: an account SAS token works, with or without its leading "?"', async () => {
  const sas = generateAccountSASQueryParameters(
    {
      ...validity(),
      permissions: AccountSASPermissions.parse('rwlc'),
      resourceTypes: AccountSASResourceTypes.parse('co').toString(),
      services: AccountSASServices.parse('b').toString(),
      protocol: SASProtocol.HttpsAndHttp,
    },
    sharedKey(),
  ).toString();
  for (const token of [sas, `?${sas}`]) {
    const parameters = { azure_blob_endpoint: server.blobEndpoint, azure_sas_token: token };
    await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}/sas`, parameters), async (store) => {
      await store.preflight();
      const object = await fileToPut(dir, 'r/run.json', '{"sas":true}\n');
      await store.put(object);
      assert.equal((await store.head('r/run.json'))?.sha256, object.sha256);
    });
  }
});

test('az: a container SAS (no account-level rights) passes preflight and uploads', async () => {
  const sas = generateBlobSASQueryParameters(
    {
      ...validity(),
      containerName: CONTAINER,
      permissions: ContainerSASPermissions.parse('rwlc'),
      protocol: SASProtocol.HttpsAndHttp,
    },
    sharedKey(),
  ).toString();
  const parameters = { azure_blob_endpoint: server.blobEndpoint, azure_sas_token: sas };
  await withStore(
    await openAz(`az://devstoreaccount1/${CONTAINER}/container-sas`, parameters),
    async (store) => {
      await store.preflight();
      await store.put(await fileToPut(dir, 'r/run.json', '{}\n'));
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['r/run.json'],
      );
    },
  );
});

test('az: a connection string works, from parameters or the environment', async () => {
  const uri = `az://devstoreaccount1/${CONTAINER}/cs`;
  await withStore(await openAz(uri, { azure_connection_string: server.connectionString() }), (store) =>
    store.preflight(),
  );
  await withStore(
    await openAz(uri, {}, { AZURE_STORAGE_CONNECTION_STRING: server.connectionString() }),
    (store) => store.preflight(),
  );
  // A connection string for another account than the URI names is refused before any request.
  const other = await rejectsWithStorageError(
    openAz(`az://otheraccount/${CONTAINER}/cs`, {
      azure_connection_string: server.connectionString(),
    }),
  );
  assert.match(other.message, /is for account devstoreaccount1, but the URI names account otheraccount/);
  assert.ok(!other.message.includes(server.key));
});

test('az: the service refuses bytes that do not match their MD5', async () => {
  const object = await fileToPut(dir, 'md5/run.json', '{"a":1}\n');
  const wrong = { ...object, md5_base64: Buffer.alloc(16).toString('base64') };
  await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}/md5`), async (store) => {
    const error = await caught(store.put(wrong));
    assert.equal(isRetryable(error), false, String(error));
    assert.equal(await store.head('md5/run.json'), null);
  });
});

test('az: SDK errors classify as the uploader expects; a restarted server keeps its blobs', async () => {
  const object = await fileToPut(dir, 'cls/run.json', '{"a":1}\n');
  await withStore(await openAz(`az://devstoreaccount1/${CONTAINER}/classify`), async (store) => {
    await store.put(object);
    const missing = await caught(store.get('cls/none.json', join(dir, 'none')));
    assert.equal(httpStatusOf(missing), 404);
    assert.equal(isRetryable(missing), false);

    await server.stop();
    try {
      const down = await caught(store.head('cls/run.json'));
      assert.equal(isRetryable(down), true, `connection refused is retryable: ${String(down)}`);
      const preflight = await rejectsWithStorageError(store.preflight());
      assert.equal(preflight.retryable, true);
      assert.match(preflight.message, /cannot reach http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1/);
    } finally {
      await server.restart();
    }
    assert.equal((await store.head('cls/run.json'))?.sha256, object.sha256);
  });
});

test('az: no credentials, or an account name that is not the URI one, are refused before any request', async () => {
  const uri = `az://devstoreaccount1/${CONTAINER}/x`;
  const none = await rejectsWithStorageError(openAz(uri, { azure_blob_endpoint: server.blobEndpoint }));
  assert.equal(none.retryable, false);
  assert.match(none.message, /no credentials .*azure_account_key/);
  const named = await rejectsWithStorageError(
    openAz(uri, { ...server.parameters(), azure_account_name: 'someoneelse' }),
  );
  assert.match(
    named.message,
    /azure_account_name \(someoneelse\) differs from the URI's account \(devstoreaccount1\)/,
  );
  const endpoint = await rejectsWithStorageError(
    openAz(uri, { ...server.parameters(), azure_blob_endpoint: `${server.blobEndpoint}?sv=2020&sig=abc` }),
  );
  assert.doesNotMatch(endpoint.message, /sig=abc/);
});
