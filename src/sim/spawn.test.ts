/**
 * Tests of spawnSimulator: the simulator runs in a child process, answers on its
 * port, reports its counters over IPC, and is gone after close().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSimulator } from './spawn.js';
import { ValidationError } from '../base/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('spawnSimulator starts a child that serves, reports stats, and stops on close', async () => {
  const sim = await spawnSimulator({ ttftMs: 0, itlMs: 0, model: 'child-model' });
  assert.notEqual(sim.pid, process.pid);
  assert.ok(alive(sim.pid));
  assert.equal(sim.url, `http://127.0.0.1:${sim.port}`);
  const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as { data: { id: string }[] };
  assert.equal(models.data[0]?.id, 'child-model');
  const res = await fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true }),
  });
  assert.match(await res.text(), /data: \[DONE\]\n\n$/);
  const stats = await sim.stats();
  assert.equal(stats.completed, 1);
  assert.equal(stats.generationTokens, 4);
  await sim.close();
  assert.equal(alive(sim.pid), false);
  await sim.close(); // idempotent
  await assert.rejects(fetch(`${sim.url}/health`));
});

test('spawnSimulator rejects bad options before starting a process', async () => {
  await assert.rejects(spawnSimulator({ capacity: 0 }), ValidationError);
});
