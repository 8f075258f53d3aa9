/**
 * The contract every storage scheme's store must meet (hono's `*.case.test.ts`
 * pattern): each scheme's test calls `objectStoreContract` with a store on a real
 * (or the closest real) server it started on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStorageUri, type StorageLocation, type StorageScheme } from '../../spec/storage-uri.js';
import type { ObjectStore, ObjectToPut } from '../object-store.js';
import { StorageError } from '../storage-error.js';

/** A storage URI parsed and narrowed to the scheme a test expects (fails the test otherwise). */
export function locationOf<S extends StorageScheme>(
  uri: string,
  scheme: S,
): Extract<StorageLocation, { scheme: S }> {
  const parsed = parseStorageUri(uri);
  assert.ok(parsed.ok && parsed.location.scheme === scheme, uri);
  return parsed.location as Extract<StorageLocation, { scheme: S }>;
}

/** Runs `use` with a store and closes the store whatever happens. */
export async function withStore<T>(store: ObjectStore, use: (store: ObjectStore) => Promise<T>): Promise<T> {
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** The StorageError a promise rejects with (fails the test if it resolves or rejects with anything else). */
export async function rejectsWithStorageError(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a StorageError');
}

/** Whatever a promise rejects with (fails the test if it resolves). */
export async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected an error'),
    (error: unknown) => error,
  );
}

export interface ContractSetup {
  /** A store at a location that exists and is writable. */
  store(): Promise<ObjectStore>;
}

/** A local file with its digests, ready to put. */
export async function fileToPut(dir: string, key: string, content: string | Buffer): Promise<ObjectToPut> {
  const localPath = join(dir, key.replaceAll('/', '__'));
  await writeFile(localPath, content);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return {
    key,
    localPath,
    size_bytes: bytes.length,
    sha256: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    md5_base64: createHash('md5').update(bytes).digest('base64'),
    content_type: key.endsWith('.json') ? 'application/json' : 'application/octet-stream',
  };
}

export function objectStoreContract(name: string, setup: ContractSetup): void {
  test(`${name}: preflight passes on a writable location`, async () => {
    const store = await setup.store();
    try {
      await store.preflight();
    } finally {
      await store.close();
    }
  });

  test(`${name}: put, head, get and list round-trip bytes and digests`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infermark-contract-'));
    const store = await setup.store();
    try {
      const run = `run-${Date.now()}`;
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
      const objects = [
        await fileToPut(dir, `${run}/run.json`, '{"run_id":"x"}\n'),
        await fileToPut(dir, `${run}/iterations/000/requests.jsonl`, '{"a":1}\n{"a":2}\n'),
        await fileToPut(dir, `${run}/iterations/000/empty.prom`, ''),
        await fileToPut(dir, `${run}/iterations/001/big.bin`, big),
      ];
      for (const object of objects) await store.put(object);
      for (const object of objects) {
        const head = await store.head(object.key);
        assert.ok(head, `head ${object.key}`);
        assert.equal(head.key, object.key);
        assert.equal(head.size_bytes, object.size_bytes, `size of ${object.key}`);
        if (head.sha256 !== null) assert.equal(head.sha256, object.sha256, `sha256 of ${object.key}`);
        const back = join(dir, `back-${object.key.replaceAll('/', '_')}`);
        await store.get(object.key, back);
        assert.deepEqual(await readFile(back), await readFile(object.localPath), `bytes of ${object.key}`);
      }
      const listed = (await store.list(`${run}/`)).map((o) => o.key).sort();
      assert.deepEqual(listed, objects.map((o) => o.key).sort());
      assert.deepEqual((await store.list(`${run}/iterations/000/`)).map((o) => o.key).sort(), [
        `${run}/iterations/000/empty.prom`,
        `${run}/iterations/000/requests.jsonl`,
      ]);
      assert.equal(await store.head(`${run}/missing.json`), null);
      // The same put again leaves the same object.
      await store.put(objects[0] as ObjectToPut);
      assert.equal((await store.head(`${run}/run.json`))?.size_bytes, objects[0]?.size_bytes);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
