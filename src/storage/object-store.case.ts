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
import type { ObjectStore, ObjectToPut } from './object-store.js';

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
