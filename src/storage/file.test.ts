// Local folders and pvc claims: a claim whose volume is not mounted is refused before anything is written.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ExitCode } from '../base/errors.js';
import type { ObjectToPut } from './object-store.js';
import { openLocation } from './open-location.js';
import { StorageError } from './storage-error.js';

const base = await mkdtemp(join(tmpdir(), 'infermark-file-store-'));
after(() => rm(base, { recursive: true, force: true }));

async function objectFile(name: string, text: string): Promise<string> {
  const path = join(base, name);
  await writeFile(path, text);
  return path;
}

function toPut(key: string, localPath: string, text: string): ObjectToPut {
  return {
    key,
    localPath,
    size_bytes: Buffer.byteLength(text),
    sha256: `sha256:${createHash('sha256').update(text).digest('hex')}`,
    md5_base64: createHash('md5').update(text).digest('base64'),
    content_type: 'text/plain',
  };
}

test('pvc://claim/path with no volume mounted is refused and creates nothing', async () => {
  const root = join(base, 'no-mounts');
  const store = await openLocation({
    uri: 'pvc://results-claim/runs',
    source: { path: 'URI' },
    env: { INFERMARK_PVC_ROOT: root },
  });
  const mountPath = join(root, 'results-claim');
  for (const step of [() => store.preflight(), () => store.list('')]) {
    await assert.rejects(step, (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.exitCode, ExitCode.badInput);
      // Which folder is missing, and both ways to name the right one.
      assert.ok(error.message.includes(`no volume is mounted at ${mountPath}`), error.message);
      assert.match(error.message, /parameters\.mount_path/);
      assert.match(error.message, /INFERMARK_PVC_ROOT/);
      return true;
    });
  }
  const local = await objectFile('a.txt', 'a');
  await assert.rejects(store.put(toPut('a.txt', local, 'a')), StorageError);
  assert.equal(existsSync(root), false, 'nothing was created on the local disk');
});

test('the default mount root is named in the error when INFERMARK_PVC_ROOT is not set', async () => {
  const store = await openLocation({
    uri: 'pvc://ns:claim-that-is-not-here/x',
    source: { path: 'URI' },
    env: {},
  });
  await assert.rejects(
    store.preflight(),
    /no volume is mounted at \/mnt\/pvc\/claim-that-is-not-here .*default root \/mnt\/pvc/,
  );
});

test('a mounted claim (its folder exists) is written to, under INFERMARK_PVC_ROOT or parameters.mount_path', async () => {
  const root = join(base, 'mounts');
  await mkdir(join(root, 'claim-a'), { recursive: true });
  const viaRoot = await openLocation({
    uri: 'pvc://claim-a/runs',
    source: { path: 'URI' },
    env: { INFERMARK_PVC_ROOT: root },
  });
  await viaRoot.preflight();
  const local = await objectFile('b.txt', 'bee');
  await viaRoot.put(toPut('r1/b.txt', local, 'bee'));
  assert.equal(await readFile(join(root, 'claim-a', 'runs', 'r1', 'b.txt'), 'utf8'), 'bee');

  const mountPath = join(base, 'elsewhere');
  await mkdir(mountPath);
  const viaParameter = await openLocation({
    uri: 'pvc://claim-b/runs',
    parameters: { mount_path: mountPath },
    source: { path: 'URI' },
    env: { INFERMARK_PVC_ROOT: root },
  });
  await viaParameter.preflight();
  assert.deepEqual(await viaParameter.list(''), []);

  const notAFolder = await openLocation({
    uri: 'pvc://claim-c/runs',
    parameters: { mount_path: local },
    source: { path: 'URI' },
    env: {},
  });
  await assert.rejects(
    notAFolder.preflight(),
    /it is not a folder; the folder comes from parameters\.mount_path/,
  );
});

test('a plain local folder is still created on demand', async () => {
  const folder = join(base, 'plain', 'nested');
  const store = await openLocation({ uri: folder, source: { path: 'URI' }, env: {} });
  await store.preflight();
  assert.equal(existsSync(folder), true);
});
