/**
 * Client-overhead benchmark: how much CPU infermark's own client spends per
 * streamed token, against a simulator at zero delay in another process (so the
 * server's CPU is not counted), at 1, 64 and 512 concurrent streams, next to a
 * baseline "plain undici request() + TextDecoder + JSON.parse per event" loop and
 * two floors that parse nothing (undici dispatch; a bare net.Socket).
 *
 * Run: `npm run build && npm run bench:client` (options: `--seconds 3`,
 * `--rounds 3`, `--max-tokens 256`, `--streams 1,64,512`, `--events-per-write 1`
 * (the simulator batches 4 by default), `--only infermark,baseline,undici-floor,socket-floor`,
 * `--json FILE` to also write the medians and the cost above the floor as JSON).
 * Target: <= 3 µs of client CPU per streamed token, flat from 64 to 512 streams.
 *
 * `--tokens-per-s 40000` measures paced instead: the simulator's ITL is set per level so that
 * every level delivers the same token rate, one event per write, below what any client
 * can take. At zero delay every client saturates a core, and a slower client reads more
 * events per socket read, which lowers its cost per token (self-regulation); paced, each
 * client pays its real cost per event, as against a server with a real ITL.
 *
 * Why rounds: this host is shared and its speed drifts by tens of percent over a
 * minute, more than the effects measured here. Every round measures every
 * client at every level, in a rotated order, and the summary takes medians of
 * per-round figures; growth and "above the floor" are paired within a round, so
 * drift between rounds cancels.
 */
import { writeFile } from 'node:fs/promises';
import { connect, Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { chatBody, runClosedLoop, undiciFloorSender, type Sender, type SendOne } from './undici-floor.js';
import { createBackend } from '../src/backends/openai.js';
import { classifyStats } from '../src/backends/sse-parser.js';
import { median } from '../src/gate/checks.js';
import { spawnSimulator, type SpawnedSimulator } from '../src/sim/spawn.js';
import type { WorkItem } from '../src/workload/work-item.js';

interface Row {
  client: string;
  streams: number;
  requests: number;
  tokens: number;
  /** Chunks read from the sockets: how many events a read carries sets most of the per-token cost. */
  reads: number;
  errors: number;
  wall_s: number;
  cpu_us: number;
  sys_us: number;
  loop_p99_ms: number;
  /** Event-loop utilization: near 1 when the client, not the simulator, is the slower side. */
  elu: number;
  round: number;
}

/**
 * Every chunk a socket hands to JavaScript passes through one 'data' emit (undici's
 * `socket.read()` emits it too; flowing mode emits it directly), so counting those
 * counts reads. One comparison per emit, the same for every client.
 */
let socketReads = 0;
const socketEmit = Socket.prototype.emit;
Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'data') socketReads++;
  return socketEmit.apply(this, [event, ...args] as Parameters<typeof socketEmit>);
};

/** One closed-loop pass, measured: `streams` workers send until `total` requests have been sent. */
async function closedLoop(client: string, streams: number, total: number, send: SendOne): Promise<Row> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const elu0 = performance.eventLoopUtilization();
  const reads0 = socketReads;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { tokens, errors } = await runClosedLoop(streams, total, send);
  const wall_ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const reads = socketReads - reads0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  loop.disable();
  return {
    client,
    streams,
    requests: total,
    tokens,
    reads,
    errors,
    wall_s: wall_ms / 1000,
    cpu_us: cpu.user + cpu.system,
    sys_us: cpu.system,
    loop_p99_ms: loop.percentile(99) / 1e6,
    elu,
    round: 0,
  };
}

/**
 * Below undici: one keep-alive `net.Socket` per stream, the request written by hand,
 * the response ignored except for the chunked body's terminator. No HTTP parsing at
 * all, so this is the floor of any Node.js client on this machine.
 */
function socketFloorSender(url: string, _streams: number, maxTokens: number): Sender {
  const { hostname, port } = new URL(url);
  const body = chatBody(maxTokens);
  const request = Buffer.from(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}:${port}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const terminator = Buffer.from('0\r\n\r\n');
  const idle: Socket[] = [];
  const all: Socket[] = [];
  const open = (): Promise<Socket> =>
    new Promise((resolve) => {
      const socket = connect(Number(port), hostname, () => resolve(socket));
      socket.setNoDelay(true);
      all.push(socket);
    });
  const send: SendOne = async () => {
    const socket = idle.pop() ?? (await open());
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        if (chunk.length >= 5 && chunk.subarray(chunk.length - 5).equals(terminator)) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
      socket.write(request);
    });
    idle.push(socket);
    return { tokens: maxTokens, ok: true };
  };
  return { send, close: async () => all.forEach((socket) => socket.destroy()) };
}

/** The baseline most clients write: request(), decode, split on blank lines, JSON.parse every event. */
function baselineSender(url: string, streams: number, maxTokens: number): Sender {
  const pool = new Pool(url, { connections: streams, headersTimeout: 0, bodyTimeout: 0 });
  const send: SendOne = async (index) => {
    const res = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', 'x-request-id': `b-${index}` },
      body: chatBody(maxTokens),
    });
    const decoder = new TextDecoder();
    let buffered = '';
    let tokens = 0;
    let done = false;
    const times: number[] = [];
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Buffer, { stream: true });
      let end = buffered.indexOf('\n\n');
      while (end !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const obj = JSON.parse(data) as {
          choices?: { delta?: { content?: string; reasoning_content?: string } }[];
        };
        const delta = obj.choices?.[0]?.delta;
        if (delta?.content || delta?.reasoning_content) {
          tokens++;
          times.push(performance.now());
        }
      }
    }
    return { tokens, ok: res.statusCode === 200 && done };
  };
  return { send, close: () => pool.close() };
}

function infermarkSender(url: string, streams: number, maxTokens: number): Sender {
  const backend = createBackend('openai-chat', {
    baseUrl: url,
    model: 'sim',
    stream: true,
    requestTimeoutMs: 600_000,
    additionalParams: {},
    forceOutputLength: true,
    connections: streams,
    countTokens: (text) => Math.ceil(text.length / 4),
  });
  const controller = new AbortController();
  const item: WorkItem = { index: 0, prompt: 'hello there', input_tokens: 2, max_tokens: maxTokens };
  const send: SendOne = async (index) => {
    const rec = await backend.send(item, {
      request_id: `0-${index}`,
      iteration: 0,
      index,
      phase: 'measured',
      scheduled_at_us: 0,
      signal: controller.signal,
    });
    return { tokens: rec.chunk_times_us.length, ok: rec.status === 'ok' };
  };
  return { send, close: () => backend.close() };
}

const CALIBRATION_MIN_S = 0.5;

async function measure(
  client: string,
  make: typeof infermarkSender,
  url: string,
  streams: number,
  maxTokens: number,
  seconds: number,
): Promise<Row> {
  const sender = make(url, streams, maxTokens);
  try {
    // Warm up the JIT and the connections, then calibrate so the measured pass runs about
    // `seconds`. A calibration pass shorter than CALIBRATION_MIN_S is repeated, doubled:
    // short requests finish a fixed count while the JIT is still cold, and that rate
    // would size the measured pass far too small.
    await closedLoop(client, streams, Math.max(streams * 2, 50), sender.send);
    let calib = await closedLoop(client, streams, Math.max(streams * 2, 100), sender.send);
    while (calib.wall_s < CALIBRATION_MIN_S) {
      calib = await closedLoop(client, streams, calib.requests * 2, sender.send);
    }
    const total = Math.max(streams * 4, Math.round((calib.requests / calib.wall_s) * seconds));
    return await closedLoop(client, streams, total, sender.send);
  } finally {
    await sender.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function markdown(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

const perToken = (r: Row): number => r.cpu_us / Math.max(1, r.tokens);

/** Every measured pass, in the order it ran. */
function runsTable(rows: Row[]): string {
  const header = [
    'client',
    'round',
    'streams',
    'requests',
    'tokens',
    'errors',
    'wall s',
    'tokens/s',
    'requests/s',
    'tokens/read',
    'CPU µs/read',
    'CPU µs/token',
    'of which sys',
    'ELU',
    'loop p99 ms',
  ];
  const lines = rows.map((r) => [
    r.client,
    fmt(r.round + 1),
    fmt(r.streams),
    fmt(r.requests),
    fmt(r.tokens),
    fmt(r.errors),
    fmt(r.wall_s, 2),
    fmt(r.tokens / r.wall_s),
    fmt(r.requests / r.wall_s, 1),
    fmt(r.tokens / Math.max(1, r.reads), 2),
    fmt(r.cpu_us / Math.max(1, r.reads), 2),
    fmt(perToken(r), 2),
    fmt(r.sys_us / Math.max(1, r.tokens), 2),
    fmt(r.elu, 2),
    fmt(r.loop_p99_ms, 2),
  ]);
  return markdown(header, lines);
}

/** Medians over rounds of each client at each level. */
function mediansTable(rows: Row[], clients: string[], levels: number[]): string {
  const header = [
    'client',
    'streams',
    'rounds',
    'tokens/s',
    'requests/s',
    'tokens/read',
    'CPU µs/token',
    'min–max',
    'ELU',
  ];
  const lines: string[][] = [];
  for (const streams of levels) {
    for (const client of clients) {
      const mine = rows.filter((r) => r.client === client && r.streams === streams);
      if (mine.length === 0) continue;
      const costs = mine.map(perToken);
      lines.push([
        client,
        fmt(streams),
        fmt(mine.length),
        fmt(median(mine.map((r) => r.tokens / r.wall_s))),
        fmt(median(mine.map((r) => r.requests / r.wall_s)), 1),
        fmt(median(mine.map((r) => r.tokens / Math.max(1, r.reads))), 2),
        fmt(median(costs), 2),
        `${fmt(Math.min(...costs), 2)}–${fmt(Math.max(...costs), 2)}`,
        fmt(median(mine.map((r) => r.elu)), 2),
      ]);
    }
  }
  return markdown(header, lines);
}

/** Per-token cost of `client` at `streams` in `round`, if measured. */
function costIn(rows: Row[], client: string, streams: number, round: number): number | undefined {
  const row = rows.find((r) => r.client === client && r.streams === streams && r.round === round);
  return row === undefined ? undefined : perToken(row);
}

/** The median over rounds of a figure computed from one round's rows (rounds lacking it skipped). */
function pairedMedian(rounds: number, figure: (round: number) => number | undefined): number | undefined {
  const values: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const v = figure(round);
    if (v !== undefined && Number.isFinite(v)) values.push(v);
  }
  return values.length === 0 ? undefined : median(values);
}

/** infermark's CPU per token above the undici floor at `streams`: the median of per-round differences. */
function aboveFloor(rows: Row[], streams: number, rounds: number): number | undefined {
  return pairedMedian(rounds, (round) => {
    const mine = costIn(rows, 'infermark', streams, round);
    const floor = costIn(rows, 'undici-floor', streams, round);
    return mine === undefined || floor === undefined ? undefined : mine - floor;
  });
}

const pct = (ratio: number): string => `${ratio >= 1 ? '+' : '−'}${fmt(Math.abs(ratio - 1) * 100, 0)}%`;

/**
 * The verdict lines: the 3 µs target per level, growth from the lowest level >= 64
 * to the highest (ratios paired within a round), and infermark's own cost above
 * the undici floor at every level (differences paired within a round).
 */
function summary(rows: Row[], clients: string[], levels: number[], rounds: number): string[] {
  const out: string[] = [];
  const TARGET_US = 3;
  if (clients.includes('infermark')) {
    const cells = levels.map((streams) => {
      const m = pairedMedian(rounds, (round) => costIn(rows, 'infermark', streams, round));
      return m === undefined
        ? ''
        : `${fmt(streams)} streams ${fmt(m, 2)} µs ${m <= TARGET_US ? 'PASS' : 'FAIL'}`;
    });
    out.push(
      `target <= ${TARGET_US} µs/token (infermark, median): ${cells.filter((c) => c !== '').join('; ')}`,
    );
  }
  const from = levels.find((l) => l >= 64);
  const to = levels[levels.length - 1];
  if (from !== undefined && to !== undefined && to > from) {
    out.push(`growth of CPU per token from ${from} to ${to} streams (median of per-round ratios):`);
    for (const client of clients) {
      const ratio = pairedMedian(rounds, (round) => {
        const a = costIn(rows, client, from, round);
        const b = costIn(rows, client, to, round);
        return a === undefined || b === undefined ? undefined : b / a;
      });
      if (ratio !== undefined) out.push(`  ${client.padEnd(13)} ${pct(ratio)}`);
    }
  }
  if (clients.includes('infermark') && clients.includes('undici-floor')) {
    const cells = levels.map((streams) => {
      const m = aboveFloor(rows, streams, rounds);
      return m === undefined ? '' : `${fmt(streams)} streams ${fmt(m, 2)} µs`;
    });
    out.push(
      `infermark's own cost above the undici floor (median of per-round differences): ${cells.join('; ')}`,
    );
  }
  return out;
}

/** The clients this benchmark can measure, by `--only` name. */
const SENDERS: Record<string, typeof infermarkSender> = {
  infermark: infermarkSender,
  baseline: baselineSender,
  'undici-floor': undiciFloorSender,
  'socket-floor': socketFloorSender,
};

/** `items` rotated left by `by`, so no client always runs first in a level (first runs see a cooler host). */
function rotated<T>(items: T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      'max-tokens': { type: 'string', default: '256' },
      streams: { type: 'string', default: '1,64,512' },
      only: { type: 'string', default: 'infermark,baseline,undici-floor,socket-floor' },
      // Events the simulator writes per stream per tick at zero delay (its default is 4).
      'events-per-write': { type: 'string', default: '4' },
      // Paced instead of zero delay: the simulator's ITL is set per level so that all streams
      // together deliver this many tokens/s, below what the client can take (0: zero delay).
      'tokens-per-s': { type: 'string', default: '0' },
      // Also write the medians and the cost above the floor as JSON here (bench:capacity reads it).
      json: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Math.max(1, Math.floor(Number(values.rounds)));
  const maxTokens = Number(values['max-tokens']);
  const levels = String(values.streams).split(',').map(Number);
  const clients = String(values.only).split(',');
  for (const client of clients) {
    if (!SENDERS[client])
      throw new Error(`unknown client ${client}; known: ${Object.keys(SENDERS).join(', ')}`);
  }
  const tokensPerS = Number(values['tokens-per-s']);
  // Zero delay: one simulator for every level. Paced: one per level, its ITL set so that
  // `streams` streams together deliver `tokensPerS` (ITL = streams / rate).
  const sims = new Map<number, SpawnedSimulator>();
  const rows: Row[] = [];
  try {
    for (const streams of levels) {
      const itlMs = tokensPerS > 0 ? (streams * 1000) / tokensPerS : 0;
      const shared = tokensPerS > 0 ? undefined : sims.values().next().value;
      sims.set(
        streams,
        shared ??
          (await spawnSimulator({
            ttftMs: 0,
            ttftPerInputTokenMs: 0,
            itlMs,
            itlJitterMs: 0,
            capacity: 100000,
            eosProbability: 0,
            zeroDelayEventsPerWrite: Number(values['events-per-write']),
          })),
      );
    }
    for (let round = 0; round < rounds; round++) {
      for (const streams of levels) {
        for (const client of rotated(clients, round)) {
          const url = (sims.get(streams) as SpawnedSimulator).url;
          const make = SENDERS[client] as typeof infermarkSender;
          const row = await measure(client, make, url, streams, maxTokens, seconds);
          row.round = round;
          rows.push(row);
          process.stderr.write(
            `round ${round + 1}/${rounds} ${client} ${streams} streams: ${fmt(perToken(row), 2)} µs/token\n`,
          );
        }
      }
    }
  } finally {
    await Promise.all([...new Set(sims.values())].map((sim) => sim.close()));
  }
  console.log(`client CPU per streamed token (user+system of this process; simulator in pid-separate child)`);
  const load =
    tokensPerS > 0
      ? `paced: ${fmt(tokensPerS)} tokens/s in all at every level (ITL = streams / rate), one event per token`
      : `zero delay, ${values['events-per-write']} events per simulator write`;
  console.log(
    `node ${process.version}, max_tokens ${maxTokens}, ${load}, ${rounds} rounds of ~${seconds} s per client and level\n`,
  );
  console.log(runsTable(rows));
  console.log('\nmedians over rounds\n');
  console.log(mediansTable(rows, clients, levels));
  console.log('');
  for (const line of summary(rows, clients, levels, rounds)) console.log(line);
  if (values.json !== undefined) {
    const perLevel = levels.map((streams) => {
      const median_us = (client: string): number | null =>
        pairedMedian(rounds, (round) => costIn(rows, client, streams, round)) ?? null;
      return {
        streams,
        infermark_cpu_us_per_token: median_us('infermark'),
        undici_floor_cpu_us_per_token: median_us('undici-floor'),
        above_floor_us_per_token: aboveFloor(rows, streams, rounds) ?? null,
      };
    });
    await writeFile(
      values.json,
      `${JSON.stringify({ rounds, seconds, max_tokens: maxTokens, levels: perLevel }, null, 2)}\n`,
    );
  }
  const fast = classifyStats.fast;
  const slow = classifyStats.slow;
  console.log(`\nclassifier: ${fmt(fast)} events on the fast path, ${fmt(slow)} via JSON.parse`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
