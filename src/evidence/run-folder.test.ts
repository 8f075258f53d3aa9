import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunFolder } from './run-folder.js';

test('lines are appended and flushed by close; JSON documents are written whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-folder-'));
  try {
    const folder = await RunFolder.create(join(dir, 'run'));
    const lines = await folder.openLines(`${RunFolder.iterationDir(7)}/requests.jsonl`);
    lines.write({ a: 1 });
    lines.write({ a: 2 });
    await lines.close();
    const text = await readFile(join(dir, 'run', 'iterations', '007', 'requests.jsonl'), 'utf8');
    assert.equal(text, '{"a":1}\n{"a":2}\n');
    await folder.writeJson('summary.json', { ok: true });
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'run', 'summary.json'), 'utf8')), { ok: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a write error does not crash the process: writes stop and close() reports it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-folder-'));
  try {
    const folder = await RunFolder.create(join(dir, 'run'));
    // A directory where the records file should be: the open fails with EISDIR.
    await mkdir(join(dir, 'run', 'blocked.jsonl'));
    const lines = await folder.openLines('blocked.jsonl');
    lines.write({ a: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    lines.write({ a: 2 });
    await assert.rejects(lines.close(), /EISDIR/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
