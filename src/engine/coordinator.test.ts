/**
 * The coordinator protocol over real HTTP on loopback: the coordinator of coordinator.ts
 * and the worker's client of shard-client.ts, talking as a split run's processes do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { nowUs } from '../base/clock.js';
import { Coordinator } from './coordinator.js';
import { ACROSS_SHARDS } from './fail-fast.js';
import { CoordinatorClient } from './shard-client.js';
import { FolderShipper, sealsLast } from './shard-shipper.js';
import { SHARD_PROTOCOL_VERSION, type ShardJobAnswer } from './shard-protocol.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import { evenChunks, streamedRecord } from '../metrics/testing/record-fixtures.js';
import { HotTotals, type HotSeriesWire } from '../telemetry/hot-totals.js';

function jobFor(index: number): ShardJobAnswer {
  return {
    protocol: SHARD_PROTOCOL_VERSION,
    run_id: 'run-1',
    dir: `/runs/run-1/shards/00${index}`,
    segment: { index, of: 2 },
    job: { apiVersion: 'ome.io/v1beta1', kind: 'BenchmarkJob' },
    job_file: null,
    job_provenance: null,
    endpoint: { baseUrl: 'http://127.0.0.1:9', path: null, model: 'm' },
    group: { runGroupId: 'run-1', repeat: 0, repeats: 1 },
    ready_timeout_ms: 10_000,
  };
}

async function raw(url: string, path: string, init: { token?: string; body?: string; method?: string }) {
  const res = await request(`${url}${path}`, {
    method: (init.method ?? 'POST') as 'POST',
    headers: init.token ? { authorization: `Bearer ${init.token}` } : {},
    ...(init.body !== undefined ? { body: init.body } : {}),
    // Every exchange bounded: a held `ready` is answered within its hold.
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

test('a worker gets its own job, measures its clock, and both shards start an iteration at one instant', async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const clients = [0, 1].map((i) => new CoordinatorClient(coordinator.url, i, coordinator.tokenFor(i)));
    const jobs = await Promise.all(clients.map((c) => c.job()));
    assert.deepEqual(
      jobs.map((j) => j.segment),
      [
        { index: 0, of: 2 },
        { index: 1, of: 2 },
      ],
    );
    // Same process, same clock: the measured offset is within its own error bound (plus a little rounding).
    const clock = await clients[0]!.clockOffset(8);
    assert.equal(clock.samples, 8);
    assert.ok(Math.abs(clock.offset_us) <= clock.error_bound_us + 1, JSON.stringify(clock));
    const identity = await clients[0]!.hello(clock);
    assert.equal(coordinator.shards[0]?.hello?.pid, process.pid);
    assert.equal(identity.pid, process.pid);

    const gates = clients.map((c) => c.gate(10_000));
    const first = gates[0]!.ready(3);
    await coordinator.until(() => coordinator.shards[0]?.readyFor === 3);
    // One shard ready is not everyone ready: nothing starts yet.
    assert.equal(
      coordinator.live().every((s) => s.readyFor === 3),
      false,
    );
    const second = gates[1]!.ready(3);
    await coordinator.until(() => coordinator.live().every((s) => s.readyFor === 3));
    const before = nowUs();
    const startAt = coordinator.start(3, 200);
    const answers = await Promise.all([first, second]);
    assert.deepEqual(answers, [{ startAtUs: startAt }, { startAtUs: startAt }]);
    assert.ok(startAt >= before + 200_000, 'the start instant lies ahead, so every shard can wait for it');
  } finally {
    await coordinator.close();
  }
});

test("a shard's live counts reach the coordinator, one message in flight at a time, Infinity as null", async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const client = new CoordinatorClient(coordinator.url, 1, coordinator.tokenFor(1));
    const snapshot = {
      sent: 7,
      done: 5,
      errors: 1,
      in_flight: 2,
      measured_done: 4,
      max_requests: Infinity,
      elapsed_s: 1.5,
      max_time_s: 60,
    };
    client.progress(2, snapshot);
    // The second is dropped while the first is in flight: a slow coordinator gets fewer, never a queue.
    client.progress(2, { ...snapshot, done: 6 });
    await coordinator.until(() => coordinator.shards[1]?.progress !== null);
    assert.deepEqual(coordinator.shards[1]?.progress, { iteration: 2, ...snapshot, max_requests: null });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(coordinator.shards[1]?.progress?.done, 5);
  } finally {
    await coordinator.close();
  }
});

/** A shard's hot totals after `n` requests of 12 tokens, in the bucket of concurrency 4. */
function hotAfter(n: number): HotSeriesWire {
  const totals = new HotTotals();
  const plan = { mode: 'concurrency', concurrency: 4 } as const;
  totals.startIteration(plan);
  for (let index = 0; index < n; index++)
    totals.record(plan, streamedRecord({ index, sent_ms: index, chunks_ms: evenChunks(index + 20, 2, 12) }));
  return totals.wire('2-4') as HotSeriesWire;
}

const SNAPSHOT = {
  sent: 7,
  done: 5,
  errors: 0,
  in_flight: 2,
  measured_done: 5,
  max_requests: 30,
  elapsed_s: 1.5,
  max_time_s: 60,
};

/** A shard's counts when its first 20 measured requests have all failed. */
const FAILED_20 = {
  ...SNAPSHOT,
  sent: 20,
  done: 20,
  errors: 20,
  in_flight: 0,
  measured_done: 20,
  elapsed_s: 0.2,
};

test("a shard's hot totals: the latest per bucket is kept, a late earlier one is not, a malformed or oversize one is refused and the shard goes on", async () => {
  const coordinator = await Coordinator.start({ of: 1, jobFor });
  try {
    const { url } = coordinator;
    const token = coordinator.tokenFor(0);
    const post = (body: unknown) => raw(url, '/v1/shards/0/progress', { token, body: JSON.stringify(body) });
    assert.equal((await post({ iteration: 0, ...SNAPSHOT, hot: hotAfter(5) })).status, 200);
    assert.deepEqual(coordinator.shards[0]?.hot.get('2-4'), hotAfter(5));
    // An earlier message that arrives late (another connection) counts fewer requests: not kept.
    assert.equal((await post({ iteration: 0, ...SNAPSHOT, done: 3, hot: hotAfter(3) })).status, 200);
    assert.deepEqual(coordinator.shards[0]?.hot.get('2-4'), hotAfter(5));

    const longer = hotAfter(6);
    longer.ttft.counts.push(1);
    const refused = await post({ iteration: 0, ...SNAPSHOT, done: 6, hot: longer });
    assert.equal(refused.status, 400);
    assert.match(String(refused.json.error), /hot\.ttft\.counts/);
    const negative = hotAfter(6);
    negative.output_tokens = -72;
    assert.equal((await post({ iteration: 0, ...SNAPSHOT, done: 6, hot: negative })).status, 400);
    const oversize = hotAfter(6);
    oversize.itl.counts = new Array<number>(40_000).fill(0);
    assert.equal((await post({ iteration: 0, ...SNAPSHOT, done: 6, hot: oversize })).status, 413);
    // Nothing refused was taken in, the counts of its message neither.
    assert.deepEqual(coordinator.shards[0]?.hot.get('2-4'), hotAfter(5));
    assert.equal(coordinator.shards[0]?.progress?.done, 3);

    // The shard goes on: its client leaves out totals the schema refuses, so its counts still arrive.
    const client = new CoordinatorClient(url, 0, token);
    const spoiled = hotAfter(7);
    spoiled.e2e.sum = Number.NaN;
    client.progress(0, { ...SNAPSHOT, done: 7 }, spoiled);
    await coordinator.until(() => coordinator.shards[0]?.progress?.done === 7);
    assert.deepEqual(coordinator.shards[0]?.hot.get('2-4'), hotAfter(5));
    const gate = client.gate(10_000);
    const ready = gate.ready(0);
    await coordinator.until(() => coordinator.shards[0]?.readyFor === 0);
    coordinator.start(0, 0);
    assert.ok('startAtUs' in (await ready));
    await gate.done(0, { ended_by: 'max_requests', requests: { total: 8 } } as IterationSummary);
    assert.equal(coordinator.shards[0]?.done.get(0)?.records, 8);
    assert.equal(coordinator.live().length, 1);
  } finally {
    await coordinator.close();
  }
});

test("an iteration's last progress, dropped while another was in flight, reaches the coordinator before its done", async () => {
  const coordinator = await Coordinator.start({ of: 1, jobFor });
  try {
    const client = new CoordinatorClient(coordinator.url, 0, coordinator.tokenFor(0));
    client.progress(0, SNAPSHOT, hotAfter(5));
    // Dropped: the first is in flight. It is the iteration's final count, so `done` sends it first.
    client.progress(0, { ...SNAPSHOT, done: 9, in_flight: 0 }, hotAfter(9));
    let atDone: { done: number | undefined; hot: HotSeriesWire | undefined } | null = null;
    void coordinator.until(() => {
      if (atDone === null && coordinator.shards[0]?.done.has(0)) {
        atDone = { done: coordinator.shards[0].progress?.done, hot: coordinator.shards[0].hot.get('2-4') };
      }
      return atDone !== null;
    });
    await client
      .gate(10_000)
      .done(0, { ended_by: 'max_requests', requests: { total: 9 } } as IterationSummary);
    assert.deepEqual(atDone, { done: 9, hot: hotAfter(9) });
  } finally {
    await coordinator.close();
  }
});

test("a shard's fail fast reaches the coordinator at once, and ends the others' iteration at their next progress", async () => {
  const coordinator = await Coordinator.start({ of: 3, jobFor });
  try {
    const clients = [0, 1, 2].map((i) => new CoordinatorClient(coordinator.url, i, coordinator.tokenFor(i)));
    const links = clients.map((c) => c.gate(10_000).link!(4));
    const snapshot = FAILED_20;
    // Shard 1 is still waiting for its last progress when it trips: its fail fast is not dropped.
    clients[1]!.progress(4, { ...snapshot, done: 19 });
    links[1]!.failedFast(snapshot);
    await coordinator.until(() => coordinator.failedFastIn(4) !== null);
    assert.equal(coordinator.failedFastIn(4), 1);
    assert.equal(coordinator.shards[1]?.progress?.fail_fast, true);
    assert.equal(coordinator.failedFastIn(3), null, 'another iteration is not ended');

    // A progress of another iteration is answered as before; shard 0's of iteration 4 ends it.
    const other = await raw(coordinator.url, '/v1/shards/0/progress', {
      token: coordinator.tokenFor(0),
      body: JSON.stringify({ iteration: 3, ...snapshot }),
    });
    assert.deepEqual(other.json, {});
    const asked = Date.now();
    clients[0]!.progress(4, snapshot);
    await new Promise<void>((resolve) => links[0]!.ended.addEventListener('abort', () => resolve()));
    assert.equal(links[0]!.ended.reason, 1, 'the end names the shard that failed fast');
    assert.ok(Date.now() - asked < 2_000);
    const answer = await raw(coordinator.url, '/v1/shards/2/progress', {
      token: coordinator.tokenFor(2),
      body: JSON.stringify({ iteration: 4, ...snapshot }),
    });
    assert.deepEqual(answer.json, { end_iteration: 'fail_fast', by_shard: 1 });
    // The tripping shard is not told to end what it has ended.
    clients[1]!.progress(4, snapshot);
    await delay(100);
    assert.equal(links[1]!.ended.aborted, false);
  } finally {
    await coordinator.close();
  }
});

test("a shard's done with fail_fast ends the others' iteration too (its progress message was lost)", async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const done = await raw(coordinator.url, '/v1/shards/0/done', {
      token: coordinator.tokenFor(0),
      body: JSON.stringify({ iteration: 2, ended_by: 'fail_fast', records: 20, fail_fast: true }),
    });
    assert.equal(done.status, 200);
    assert.equal(coordinator.failedFastIn(2), 0);
    const progress = await raw(coordinator.url, '/v1/shards/1/progress', {
      token: coordinator.tokenFor(1),
      body: JSON.stringify({
        iteration: 2,
        sent: 3,
        done: 1,
        errors: 1,
        in_flight: 2,
        measured_done: 1,
        max_requests: null,
        elapsed_s: 1,
        max_time_s: 60,
      }),
    });
    assert.deepEqual(progress.json, { end_iteration: 'fail_fast', by_shard: 0 });
  } finally {
    await coordinator.close();
  }
});

test('a lost shard stops the others at their next ready, with the reason', async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const gate = new CoordinatorClient(coordinator.url, 0, coordinator.tokenFor(0)).gate(10_000);
    const waiting = gate.ready(0);
    await coordinator.until(() => coordinator.shards[0]?.readyFor === 0);
    coordinator.lose(1, 'its worker was ended by SIGKILL');
    coordinator.stopAll('a shard was lost');
    assert.deepEqual(await waiting, { stop: 'a shard was lost' });
    assert.deepEqual(await gate.ready(1), { stop: 'a shard was lost' });
    assert.equal(coordinator.lostShards()[0]?.lost, 'its worker was ended by SIGKILL');
    // The lost shard itself is refused, saying why.
    const lost = await raw(coordinator.url, '/v1/shards/1/ready', {
      token: coordinator.tokenFor(1),
      body: JSON.stringify({ iteration: 0 }),
    });
    assert.equal(lost.status, 409);
    assert.match(String(lost.json.stop), /SIGKILL/);
  } finally {
    await coordinator.close();
  }
});

test('the coordinator refuses a wrong token, a bad message, an oversize one and an unknown shard', async () => {
  const coordinator = await Coordinator.start({ of: 1, jobFor });
  try {
    const { url } = coordinator;
    const token = coordinator.tokenFor(0);
    // The run's own token is not a shard's: each worker holds only its shard's.
    assert.equal(
      (await raw(url, '/v1/shards/0/job', { method: 'GET', token: coordinator.token })).status,
      401,
    );
    assert.equal((await raw(url, '/v1/shards/0/job', { method: 'GET' })).status, 401);
    assert.equal((await raw(url, '/v1/shards/0/job', { method: 'GET', token: 'x'.repeat(32) })).status, 401);
    const bad = await raw(url, '/v1/shards/0/done', { token, body: JSON.stringify({ iteration: -1 }) });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /iteration/);
    assert.equal((await raw(url, '/v1/shards/0/hello', { token, body: 'not json' })).status, 400);
    const big = await raw(url, '/v1/shards/0/hello', {
      token,
      body: JSON.stringify({ pad: 'x'.repeat(70_000) }),
    });
    assert.equal(big.status, 413);
    assert.equal((await raw(url, '/v1/shards/7/ready', { token, body: '{}' })).status, 401);
    assert.equal(coordinator.shards[0]?.hello, null, 'nothing refused was taken in');
  } finally {
    await coordinator.close();
  }
});

test('a worker speaks only for its own shard, and one shard has one worker', async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const { url } = coordinator;
    const hello = JSON.stringify({ host: 'h', pid: 4242, clock_offset_us: 0, clock_error_bound_us: 1 });
    // Shard 0's token cannot say hello, be ready or end for shard 1.
    for (const verb of ['hello', 'ready', 'end'])
      assert.equal(
        (await raw(url, `/v1/shards/1/${verb}`, { token: coordinator.tokenFor(0), body: hello })).status,
        401,
      );
    // Either shard's token reads the clock.
    assert.equal((await raw(url, '/v1/clock', { token: coordinator.tokenFor(1), body: '{}' })).status, 200);
    assert.equal(
      (await raw(url, '/v1/shards/1/hello', { token: coordinator.tokenFor(1), body: hello })).status,
      200,
    );
    const second = await raw(url, '/v1/shards/1/hello', {
      token: coordinator.tokenFor(1),
      body: hello.replace('4242', '4343'),
    });
    assert.equal(second.status, 409);
    assert.match(String(second.json.error), /already said hello \(pid 4242\)/);
    assert.equal(coordinator.shards[1]?.hello?.pid, 4242);
    // The same worker saying it again (its answer was lost with its connection) is answered as before.
    assert.equal(
      (await raw(url, '/v1/shards/1/hello', { token: coordinator.tokenFor(1), body: hello })).status,
      200,
    );
    // A stranger's socket is closed with its 401: it keeps none of the workers' connections.
    const stranger = await request(`${url}/v1/clock`, { method: 'POST', body: '{}', headersTimeout: 10_000 });
    await stranger.body.dump();
    assert.equal(stranger.statusCode, 401);
    assert.equal(stranger.headers.connection, 'close');
  } finally {
    await coordinator.close();
  }
});

test('a worker started before its coordinator listens waits for it (a shard pod before the coordinator pod), within its patience', async () => {
  // A port that was free a moment ago: nothing listens there when the worker first asks.
  const probe = await Coordinator.start({ of: 1, jobFor });
  const port = Number(new URL(probe.url).port);
  await probe.close();
  const client = new CoordinatorClient(`http://127.0.0.1:${port}`, 0, 'unused');
  const startedMs = Date.now();
  let coordinator: Coordinator | null = null;
  const late = delay(700).then(
    async () => (coordinator = await Coordinator.start({ of: 1, jobFor }, '127.0.0.1', port)),
  );
  try {
    // The token is checked once it listens: a 401 is an answer, so the waiting ends with it.
    await assert.rejects(client.job({ patienceMs: 30_000 }), /HTTP 401/);
    assert.ok(Date.now() - startedMs >= 600, 'it waited for the coordinator');
    await late;
    const answer = await new CoordinatorClient(`http://127.0.0.1:${port}`, 0, coordinator!.tokenFor(0)).job({
      patienceMs: 0,
    });
    assert.equal(answer.run_id, 'run-1');
  } finally {
    await late;
    await coordinator!.close();
  }
  // Not listening past its patience: it gives up, saying where it tried.
  const gone = await Coordinator.start({ of: 1, jobFor });
  await gone.close();
  const refused = new CoordinatorClient(gone.url, 0, 'unused');
  const askedMs = Date.now();
  await assert.rejects(refused.job({ patienceMs: 500 }), /ECONNREFUSED/);
  assert.ok(Date.now() - askedMs < 5_000);
});

test("a worker's client gives up on a coordinator that does not answer, naming it", async () => {
  const coordinator = await Coordinator.start({ of: 1, jobFor });
  const url = coordinator.url;
  await coordinator.close();
  const client = new CoordinatorClient(url, 0, 'token');
  await assert.rejects(client.job({ patienceMs: 0 }), (error: Error) => {
    assert.match(
      error.message,
      /shard 0: the coordinator at http:\/\/127\.0\.0\.1:\d+ \(GET \/v1\/shards\/0\/job\)/,
    );
    return true;
  });
});

test('a worker on another file system ships its shard folder: new and changed files, whole, into its own folder only', async () => {
  const root = await mkdtemp(join(tmpdir(), 'infermark-ship-'));
  const local = join(root, 'worker', '001');
  const shipping = (index: number): ShardJobAnswer => ({
    ...jobFor(index),
    dir: join(root, 'run', 'shards', `00${index}`),
    ship_files: true,
  });
  const coordinator = await Coordinator.start({ of: 2, jobFor: shipping });
  try {
    await mkdir(join(local, 'iterations', '000'), { recursive: true });
    await writeFile(join(local, 'run.json'), '{"a":1}');
    // Larger than one chunk of a stream, so the byte count is exercised.
    const records = Buffer.alloc(300_000, 'x');
    await writeFile(join(local, 'iterations', '000', 'requests.jsonl'), records);
    const shipper = new FolderShipper(coordinator.url, 1, coordinator.tokenFor(1), local);
    assert.equal(await shipper.sync(), 2);
    const landed = join(root, 'run', 'shards', '001');
    assert.equal(await readFile(join(landed, 'run.json'), 'utf8'), '{"a":1}');
    assert.deepEqual(await readFile(join(landed, 'iterations', '000', 'requests.jsonl')), records);
    // Nothing changed: nothing sent. A rewritten file is sent again.
    assert.equal(await shipper.sync(), 0);
    await writeFile(join(local, 'run.json'), '{"a":2,"b":3}');
    assert.equal(await shipper.sync(), 1);
    assert.equal(await readFile(join(landed, 'run.json'), 'utf8'), '{"a":2,"b":3}');

    // Another shard's token cannot write shard 1's files; no path leaves the folder; no
    // announced length past the limit or body longer than announced is taken.
    const put = (path: string, token: string, body = 'x', length?: string) =>
      request(`${coordinator.url}/v1/shards/1/files?path=${encodeURIComponent(path)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, ...(length ? { 'content-length': length } : {}) },
        body,
      }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() }));
    assert.equal((await put('x.json', coordinator.tokenFor(0))).status, 401);
    assert.equal((await put('../../escape.json', coordinator.tokenFor(1))).status, 400);
    assert.equal((await put('/etc/passwd', coordinator.tokenFor(1))).status, 400);
    assert.equal(existsSync(join(root, 'escape.json')), false);
    const huge = await put('big.jsonl', coordinator.tokenFor(1), 'x', String(17 * 1024 ** 3)).catch(() => ({
      status: 413,
      text: '',
    }));
    assert.equal(huge.status, 413);
    // No temporary file is left behind by a refused one.
    assert.deepEqual((await readdir(landed)).sort(), ['iterations', 'run.json']);
  } finally {
    await coordinator.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('a shipped folder sends every seal after what it seals, the run digest last (the coordinator verifies shards mid-run)', () => {
  // readdir's order: the seal first. A merge that verified the coordinator's copy between the
  // seal and summary.json found a sealed shard with summary.json missing (a flaky k8s run).
  const dir = join('w', '001');
  const listed = [
    'manifest.json',
    'manifest.sha256',
    'run.json',
    'summary.json',
    join('iterations', '000', 'manifest.json'),
    join('iterations', '000', 'requests.jsonl'),
    join('iterations', '000', 'telemetry', 'server', 'index.json'),
  ].map((rel) => join(dir, rel));
  assert.deepEqual(
    sealsLast(dir, listed).map((p) =>
      p
        .slice(dir.length + 1)
        .split(/[\\/]/)
        .join('/'),
    ),
    [
      'run.json',
      'summary.json',
      'iterations/000/requests.jsonl',
      'iterations/000/telemetry/server/index.json',
      'iterations/000/manifest.json',
      'manifest.json',
      'manifest.sha256',
    ],
  );
});

test('a coordinator whose workers share its file system takes no files', async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const res = await request(`${coordinator.url}/v1/shards/0/files?path=a.json`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${coordinator.tokenFor(0)}` },
      body: '{}',
    });
    assert.equal(res.statusCode, 404);
    await res.body.dump();
  } finally {
    await coordinator.close();
  }
});

/**
 * A peer on a raw socket: it connects, writes `send` (maybe nothing) and then stalls. Resolves
 * when the coordinator closes the connection, with what it answered; `still open` after 10 s.
 */
function stalledPeer(
  url: string,
  send: string,
): Promise<{ closedAfterMs: number | null; received: string; connected: Promise<void> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const startedMs = Date.now();
    const socket = connect(Number(port), hostname);
    let received = '';
    let connectedNow: () => void = () => {};
    const connected = new Promise<void>((r) => (connectedNow = r));
    socket.on('connect', () => {
      connectedNow();
      if (send) socket.write(send);
    });
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: null, received, connected });
    }, 10_000);
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve({ closedAfterMs: Date.now() - startedMs, received, connected });
    });
  });
}

test('peers that send nothing, half their headers or half a message are closed within their bounds, so workers are not locked out', async () => {
  const limits = { headersTimeoutMs: 600, messageBodyTimeoutMs: 600 };
  const coordinator = await Coordinator.start({ of: 1, jobFor, limits });
  try {
    const { url } = coordinator;
    const token = coordinator.tokenFor(0);
    const halfMessage = `POST /v1/shards/0/hello HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-length: 100\r\n\r\n{"host":`;
    // Twenty stalled peers, five times what one worker uses.
    const sends = Array.from(
      { length: 20 },
      (_, i) =>
        [
          '',
          'POST /v1/shards/0/ready HTTP/1.1\r\nhost: x\r\n',
          halfMessage,
          `POST /v1/clock HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-length: 2\r\n\r\n{`,
        ][i % 4]!,
    );
    const peers = sends.map((send) => stalledPeer(url, send));
    // While they stall, a worker still gets in: the cap leaves room past the workers' own.
    await delay(150);
    assert.equal((await new CoordinatorClient(url, 0, token).job({ patienceMs: 0 })).run_id, 'run-1');
    const closed = await Promise.all(peers);
    for (const [i, peer] of closed.entries()) {
      assert.notEqual(
        peer.closedAfterMs,
        null,
        `peer ${i} (${JSON.stringify(sends[i]!.slice(0, 30))}) is still open`,
      );
      // Closed by the coordinator, saying why: the headers or the message did not arrive in time.
      assert.match(peer.received, /^HTTP\/1\.1 408 /, `peer ${i}: ${peer.received}`);
      assert.match(peer.received, /connection: close/i);
      // Not before the bound (the figure is the peer's own), and well before the 10 s give-up.
      assert.ok(peer.closedAfterMs! >= 500, `peer ${i} closed after ${peer.closedAfterMs} ms`);
    }
    assert.equal(coordinator.shards[0]?.hello, null, 'nothing half-sent was taken in');
    // The stalled peers gone, a worker gets in.
    const answer = await new CoordinatorClient(url, 0, token).job({ patienceMs: 0 });
    assert.equal(answer.run_id, 'run-1');
  } finally {
    await coordinator.close();
  }
});

test('a shipped file is cut when no byte arrives for the idle bound, its part file removed; a slow steady one is not', async () => {
  const root = await mkdtemp(join(tmpdir(), 'infermark-idle-'));
  const shipping = (index: number): ShardJobAnswer => ({
    ...jobFor(index),
    dir: join(root, 'run', 'shards', `00${index}`),
    ship_files: true,
  });
  const coordinator = await Coordinator.start({
    of: 1,
    jobFor: shipping,
    limits: { fileIdleTimeoutMs: 400 },
  });
  try {
    const head = (path: string, length: number) =>
      `PUT /v1/shards/0/files?path=${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${coordinator.tokenFor(0)}\r\ncontent-length: ${length}\r\n\r\n`;
    const stalled = await stalledPeer(coordinator.url, `${head('a.jsonl', 1000)}${'x'.repeat(10)}`);
    assert.notEqual(stalled.closedAfterMs, null, 'the stalled upload is still open');
    assert.ok(stalled.closedAfterMs! >= 300, `closed after ${stalled.closedAfterMs} ms`);
    const incoming = join(root, '.infermark-incoming');
    const settleBy = Date.now() + 5_000;
    while ((await readdir(incoming)).length > 0 && Date.now() < settleBy) await delay(50);
    assert.deepEqual(await readdir(incoming), [], 'its part file was removed');
    assert.equal(existsSync(join(root, 'run', 'shards', '000', 'a.jsonl')), false);

    // A byte every 100 ms for three times the idle bound: slow, never idle, taken whole.
    const { hostname, port } = new URL(coordinator.url);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(head('slow.jsonl', 12));
    for (let i = 0; i < 12; i++) {
      await delay(100);
      socket.write('y');
    }
    const answeredBy = Date.now() + 5_000;
    while (!answer.includes('\r\n\r\n') && Date.now() < answeredBy) await delay(20);
    socket.destroy();
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(await readFile(join(root, 'run', 'shards', '000', 'slow.jsonl'), 'utf8'), 'y'.repeat(12));
  } finally {
    await coordinator.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('a ready held past its bound is answered `again`; the worker asks again and still starts at the common instant', async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor, limits: { readyHoldMs: 150 } });
  try {
    const { url } = coordinator;
    // What a worker sees when its ready is held its time.
    const heldMs = Date.now();
    const held = await raw(url, '/v1/shards/1/ready', {
      token: coordinator.tokenFor(1),
      body: JSON.stringify({ iteration: 4 }),
    });
    assert.deepEqual(held, { status: 200, json: { again: true } });
    assert.ok(Date.now() - heldMs >= 100);
    // Shard 1 is still counted ready for its iteration while its worker asks again.
    assert.equal(coordinator.shards[1]?.readyFor, 4);

    // Shard 0's worker waits several holds for shard 1 (far less than its ready_timeout_ms).
    const gates = [0, 1].map((i) => new CoordinatorClient(url, i, coordinator.tokenFor(i)).gate(10_000));
    const first = gates[0]!.ready(4);
    await delay(700);
    assert.equal(coordinator.shards[0]?.readyFor, 4);
    const second = gates[1]!.ready(4);
    await coordinator.until(() => coordinator.live().every((s) => s.readyFor === 4));
    const startAt = coordinator.start(4, 200);
    assert.deepEqual(await Promise.all([first, second]), [{ startAtUs: startAt }, { startAtUs: startAt }]);
    // A worker between its `again` and its next ask when the iteration starts gets the same instant.
    assert.deepEqual(
      await raw(url, '/v1/shards/1/ready', {
        token: coordinator.tokenFor(1),
        body: JSON.stringify({ iteration: 4 }),
      }),
      { status: 200, json: { start_at_us: startAt } },
    );
    // And the iteration completes.
    for (const i of [0, 1]) {
      const done = JSON.stringify({ iteration: 4, ended_by: 'max_requests', records: 3, fail_fast: false });
      assert.equal(
        (await raw(url, `/v1/shards/${i}/done`, { token: coordinator.tokenFor(i), body: done })).status,
        200,
      );
    }
    await coordinator.until(() => coordinator.live().every((s) => s.done.has(4)));
  } finally {
    await coordinator.close();
  }
});

test("a worker's ready gives up at its ready_timeout_ms, however many times it was asked again", async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor, limits: { readyHoldMs: 100 } });
  try {
    const gate = new CoordinatorClient(coordinator.url, 0, coordinator.tokenFor(0)).gate(600);
    const askedMs = Date.now();
    await assert.rejects(gate.ready(0), /did not start iteration 0 in 600 ms|no answer in/);
    const waitedMs = Date.now() - askedMs;
    assert.ok(waitedMs >= 550 && waitedMs < 5_000, `gave up after ${waitedMs} ms`);
  } finally {
    await coordinator.close();
  }
});

test('an oversize message gets its 413 and a closed connection, not a reset: the keep-alive client asks again on a new one', async () => {
  const coordinator = await Coordinator.start({ of: 1, jobFor });
  const client = new Client(coordinator.url, { pipelining: 1 });
  try {
    const headers = { authorization: `Bearer ${coordinator.tokenFor(0)}` };
    const ask = async (path: string, body: string) => {
      const res = await client.request({ method: 'POST', path, headers, body });
      return { status: res.statusCode, connection: res.headers.connection, text: await res.body.text() };
    };
    assert.equal((await ask('/v1/clock', '{}')).status, 200);
    const big = await ask('/v1/shards/0/hello', JSON.stringify({ pad: 'x'.repeat(300_000) }));
    assert.equal(big.status, 413);
    assert.equal(big.connection, 'close');
    assert.match(big.text, /at most 65536 bytes/);
    // The same client again: a new connection, no ECONNRESET.
    for (let i = 0; i < 3; i++) assert.equal((await ask('/v1/clock', '{}')).status, 200);
  } finally {
    await client.close();
    await coordinator.close();
  }
});

test("the shards' fail-fast watches add up: ended together at 20 alike, never after a settled watch or a second class", async () => {
  const coordinator = await Coordinator.start({ of: 3, jobFor });
  try {
    const progress = (
      i: number,
      iteration: number,
      failed: number,
      errorClass: string | null,
      settled = false,
    ) =>
      raw(coordinator.url, `/v1/shards/${i}/progress`, {
        token: coordinator.tokenFor(i),
        body: JSON.stringify({
          iteration,
          sent: failed + 1,
          done: failed,
          errors: failed,
          in_flight: 1,
          measured_done: failed,
          max_requests: 100,
          elapsed_s: 0.5,
          max_time_s: 60,
          fail_watch: { failed, error_class: errorClass, settled },
        }),
      });
    // 7 + 7 + 5 = 19: not yet.
    assert.deepEqual((await progress(0, 0, 7, 'http_429')).json, {});
    assert.deepEqual((await progress(1, 0, 7, 'http_429')).json, {});
    assert.deepEqual((await progress(2, 0, 5, 'http_429')).json, {});
    assert.equal(coordinator.failedFastIn(0), null);
    // The 20th: every shard is told, the one whose message tipped it too, with no shard named.
    assert.deepEqual((await progress(2, 0, 6, 'http_429')).json, { end_iteration: 'fail_fast' });
    assert.deepEqual((await progress(0, 0, 8, 'http_429')).json, { end_iteration: 'fail_fast' });
    assert.equal(coordinator.failedFastIn(0), ACROSS_SHARDS);

    // A shard whose watch settled (a request completed first) keeps the others from tripping.
    await progress(0, 1, 15, 'http_429');
    await progress(1, 1, 0, null, true);
    assert.deepEqual((await progress(2, 1, 15, 'http_429')).json, {});
    assert.equal(coordinator.failedFastIn(1), null);
    // Two error classes: the server is not simply wrong, nothing trips.
    await progress(0, 2, 12, 'http_429');
    assert.deepEqual((await progress(1, 2, 12, 'timeout')).json, {});
    assert.equal(coordinator.failedFastIn(2), null);
  } finally {
    await coordinator.close();
  }
});

test('a ready asked again after its iteration started gets the instant the others got, even once the run is stopping', async () => {
  const coordinator = await Coordinator.start({ of: 2, jobFor });
  try {
    const gates = [0, 1].map((i) =>
      new CoordinatorClient(coordinator.url, i, coordinator.tokenFor(i)).gate(10_000),
    );
    const first = gates[0]!.ready(3);
    await coordinator.until(() => coordinator.shards[0]?.readyFor === 3);
    const startAtUs = coordinator.start(3, 0);
    assert.deepEqual(await first, { startAtUs });
    // Ctrl-C: the run is stopping. Shard 1's ready (its hold ran out as the others started) comes now.
    coordinator.stopAll('interrupted');
    assert.deepEqual(await gates[1]!.ready(3), { startAtUs });
    // An iteration that never started is stopped.
    assert.deepEqual(await gates[1]!.ready(4), { stop: 'interrupted' });
  } finally {
    await coordinator.close();
  }
});

test('a message whose connection is reset before its answer is sent again; progress is not', async () => {
  // A stand-in for a coordinator at its connection cap: the first two connections are reset.
  const seen: string[] = [];
  let resets = 2;
  const server = createServer((req, res) => {
    seen.push(`${req.url ?? ''}${resets > 0 ? ' reset' : ''}`);
    if (resets-- > 0) return void req.socket.destroy();
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = new CoordinatorClient(`http://127.0.0.1:${port}`, 0, 'token');
    await client
      .gate(10_000)
      .done(0, { ended_by: 'max_requests', requests: { total: 3 } } as IterationSummary);
    assert.deepEqual(seen, ['/v1/shards/0/done reset', '/v1/shards/0/done reset', '/v1/shards/0/done']);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a fail fast pending behind a slow progress reaches the coordinator before the iteration's done", async () => {
  const order: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const failFast = (JSON.parse(body || '{}') as { fail_fast?: boolean }).fail_fast === true;
      const label = `${(req.url ?? '').split('/').at(-1) ?? ''}${failFast ? ' fail_fast' : ''}`;
      order.push(label);
      // Progress answers slowly: the fail fast waits behind it, and done must wait for both answers.
      setTimeout(
        () => {
          order.push(`${label} answered`);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        },
        req.url?.endsWith('progress') ? 150 : 0,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = new CoordinatorClient(`http://127.0.0.1:${port}`, 0, 'token');
    const snapshot = FAILED_20;
    const gate = client.gate(10_000);
    const link = gate.link!(0);
    client.progress(0, { ...snapshot, done: 19 });
    link.failedFast(snapshot);
    client.progress(0, snapshot);
    await gate.done(0, { ended_by: 'fail_fast', requests: { total: 20 } } as IterationSummary);
    order.push('done returned');
    assert.deepEqual(order, [
      'progress',
      'progress answered',
      'progress fail_fast',
      'progress fail_fast answered',
      'done fail_fast',
      'done fail_fast answered',
      'done returned',
    ]);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
