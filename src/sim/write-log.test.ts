/**
 * The simulator's write log against the real server on loopback: each request's
 * writes under the `x-request-id` it sent, in order, one time per content event,
 * the newest N kept; a client's own clock reads each write after it was made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startSimulator, type SimulatorHandle } from './server.js';
import { spawnSimulator } from './spawn.js';
import { fetchWriteLog, MAX_REQUEST_ID_CHARS, writesById, type RequestWrites } from './write-log.js';

/** One streamed chat request; the wall-clock times (ms) at which its SSE events arrived. */
async function stream(
  url: string,
  requestId: string | undefined,
  body: Record<string, unknown> = {},
): Promise<{ sent_ms: number; event_ms: number[]; status: number }> {
  const wall = (): number => performance.timeOrigin + performance.now();
  const sent_ms = wall();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) },
    body: JSON.stringify({
      model: 'm',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: true,
      max_tokens: 5,
      ignore_eos: true,
      ...body,
    }),
  });
  const event_ms: number[] = [];
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const events = Buffer.from(chunk)
      .toString('utf8')
      .split('\n\n')
      .filter((e) => e.startsWith('data: '));
    for (let i = 0; i < events.length; i++) event_ms.push(wall());
  }
  return { sent_ms, event_ms, status: response.status };
}

async function withSim(
  options: Parameters<typeof startSimulator>[0],
  work: (sim: SimulatorHandle) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator(options);
  try {
    await work(sim);
  } finally {
    await sim.close();
  }
}

const ORDERED = (w: RequestWrites): number[] => [
  w.arrived_ms,
  w.headers_ms as number,
  ...w.token_ms,
  w.done_ms as number,
];

test('each streamed request: arrival, headers, one time per content event and the end, in order', async () => {
  await withSim(
    { ttftMs: 30, ttftPerInputTokenMs: 0, itlMs: 10, itlJitterMs: 0, writeLogRequests: 8 },
    async (sim) => {
      const seen = await stream(sim.url, 'req-a');
      assert.equal(seen.status, 200);
      const log = sim.writeLog();
      assert.ok(log);
      assert.equal(log.requests.length, 1);
      const writes = log.requests[0] as RequestWrites;
      assert.equal(writes.request_id, 'req-a');
      assert.equal(writes.outcome, 'completed');
      assert.equal(writes.token_ms.length, 5);
      const times = ORDERED(writes);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        JSON.stringify(writes),
      );
      // Deadlines are absolute: event k is never written before arrival + 30 + 10·k ms (the
      // scheduler may fire up to 0.5 ms early), however late a busy host made the simulator;
      // a late one catches up with several events in one write.
      writes.token_ms.forEach((written, k) => {
        assert.ok(written - writes.arrived_ms >= 30 + 10 * k - 0.5, JSON.stringify(writes));
      });
      // Causality on one host's clock: the client sent before the server saw it, and read
      // each content event (events 1..5 after the role chunk) after it was written.
      assert.ok(seen.sent_ms <= writes.arrived_ms + 1, `${seen.sent_ms} vs ${writes.arrived_ms}`);
      writes.token_ms.forEach((written, i) => {
        assert.ok(
          (seen.event_ms[i + 1] as number) >= written - 1,
          `event ${i}: read ${seen.event_ms[i + 1]}, written ${written}`,
        );
      });
    },
  );
});

test('the newest N requests are kept; ids are cut to a bound; rejected requests are logged; off by default', async () => {
  await withSim(
    { ttftMs: 0, ttftPerInputTokenMs: 0, itlMs: 0, itlJitterMs: 0, writeLogRequests: 2 },
    async (sim) => {
      await stream(sim.url, 'one');
      await stream(sim.url, 'two');
      await stream(sim.url, 'x'.repeat(5000));
      const bad = await stream(sim.url, undefined, { messages: [] });
      assert.equal(bad.status, 400);
      const log = await fetchWriteLog(sim.url);
      assert.equal(log.limit, 2);
      assert.equal(log.dropped, 2);
      assert.deepEqual(
        log.requests.map((r) => [r.request_id, r.outcome]),
        [
          ['x'.repeat(MAX_REQUEST_ID_CHARS), 'completed'],
          [null, 'rejected'],
        ],
      );
      assert.deepEqual([...writesById(log).keys()], ['x'.repeat(MAX_REQUEST_ID_CHARS)]);
    },
  );
  await withSim({}, async (sim) => {
    assert.equal(sim.writeLog(), null);
    await assert.rejects(fetchWriteLog(sim.url), /HTTP 404: .*the write log is off/);
  });
});

test('a simulator in its own process serves its log over HTTP', async () => {
  const sim = await spawnSimulator({ ttftMs: 5, itlMs: 1, itlJitterMs: 0, writeLogRequests: 4 });
  try {
    await stream(sim.url, 'child-1');
    const log = await sim.writeLog();
    assert.equal(writesById(log).get('child-1')?.token_ms.length, 5);
  } finally {
    await sim.close();
  }
});
