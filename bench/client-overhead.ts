/**
 * Client-overhead benchmark: how much CPU infermark's own client spends per
 * streamed token, against a simulator at zero delay in another process (so the
 * server's CPU is not counted), at 1, 64 and 512 concurrent streams, next to a
 * baseline "plain undici request() + TextDecoder + JSON.parse per event" loop and
 * two floors that parse nothing (undici dispatch; a bare net.Socket).
 *
 * Run: `npm run build && npm run bench:client` (options: `--seconds 5`,
 * `--max-tokens 256`, `--streams 1,64,512`, `--events-per-write 1` (the simulator
 * batches 4 by default), `--only infermark,baseline,undici-floor,socket-floor`).
 * Target: <= 3 µs of client CPU per streamed token, flat from 64 to 512 streams.
 */
import { connect, Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { createBackend } from '../src/backends/openai.js';
import { classifyStats } from '../src/backends/sse-parser.js';
import { spawnSimulator } from '../src/sim/spawn.js';
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

/** One closed-loop pass: `streams` workers send until `total` requests have been sent. */
type SendOne = (index: number) => Promise<{ tokens: number; ok: boolean }>;

async function closedLoop(client: string, streams: number, total: number, send: SendOne): Promise<Row> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let next = 0;
  let tokens = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const r = await send(next++);
      tokens += r.tokens;
      if (!r.ok) errors++;
    }
  };
  loop.enable();
  const reads0 = socketReads;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(streams, total) }, worker));
  const wall_ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const reads = socketReads - reads0;
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
  };
}

/** The streamed chat request every comparison client sends. */
function chatBody(maxTokens: number): string {
  return JSON.stringify({
    model: 'sim',
    messages: [{ role: 'user', content: 'hello there' }],
    max_tokens: maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    ignore_eos: true,
  });
}

/**
 * Below undici: one keep-alive `net.Socket` per stream, the request written by hand,
 * the response ignored except for the chunked body's terminator. No HTTP parsing at
 * all, so this is the floor of any Node.js client on this machine.
 */
function socketFloorSender(
  url: string,
  _streams: number,
  maxTokens: number,
): { send: SendOne; close: () => Promise<void> } {
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
function baselineSender(
  url: string,
  streams: number,
  maxTokens: number,
): { send: SendOne; close: () => Promise<void> } {
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

/**
 * The floor under any undici-based client: `dispatch` with a handler that ignores
 * every byte (tokens are credited as max_tokens, since nothing is parsed). What a
 * client costs above this row is its own parsing and stamping.
 */
function undiciFloorSender(
  url: string,
  streams: number,
  maxTokens: number,
): { send: SendOne; close: () => Promise<void> } {
  const pool = new Pool(url, { connections: streams, headersTimeout: 0, bodyTimeout: 0 });
  const body = chatBody(maxTokens);
  const send: SendOne = (index) =>
    new Promise((resolve) => {
      let status = 0;
      pool.dispatch(
        {
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', 'x-request-id': `f-${index}` },
          body,
        },
        {
          onConnect: () => {},
          onHeaders: (statusCode: number) => {
            status = statusCode;
            return true;
          },
          onData: () => true,
          onComplete: () => resolve({ tokens: status === 200 ? maxTokens : 0, ok: status === 200 }),
          onError: () => resolve({ tokens: 0, ok: false }),
        },
      );
    });
  return { send, close: () => pool.close() };
}

function infermarkSender(
  url: string,
  streams: number,
  maxTokens: number,
): { send: SendOne; close: () => Promise<void> } {
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
    // Warm up the JIT and the connections, then calibrate so the measured pass runs about `seconds`.
    await closedLoop(client, streams, Math.max(streams * 2, 50), sender.send);
    const calib = await closedLoop(client, streams, Math.max(streams * 2, 100), sender.send);
    const total = Math.max(streams * 4, Math.round((calib.requests / calib.wall_s) * seconds));
    return await closedLoop(client, streams, total, sender.send);
  } finally {
    await sender.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: Row[]): string {
  const header = [
    'client',
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
    'loop p99 ms',
  ];
  const lines = rows.map((r) => [
    r.client,
    fmt(r.streams),
    fmt(r.requests),
    fmt(r.tokens),
    fmt(r.errors),
    fmt(r.wall_s, 2),
    fmt(r.tokens / r.wall_s),
    fmt(r.requests / r.wall_s, 1),
    fmt(r.tokens / Math.max(1, r.reads), 2),
    fmt(r.cpu_us / Math.max(1, r.reads), 2),
    fmt(r.cpu_us / Math.max(1, r.tokens), 2),
    fmt(r.sys_us / Math.max(1, r.tokens), 2),
    fmt(r.loop_p99_ms, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

/** The clients this benchmark can measure, by `--only` name. */
const SENDERS: Record<string, typeof infermarkSender> = {
  infermark: infermarkSender,
  baseline: baselineSender,
  'undici-floor': undiciFloorSender,
  'socket-floor': socketFloorSender,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      'max-tokens': { type: 'string', default: '256' },
      streams: { type: 'string', default: '1,64,512' },
      only: { type: 'string', default: 'infermark,baseline,undici-floor,socket-floor' },
      // Events the simulator writes per stream per tick at zero delay (its default is 4).
      'events-per-write': { type: 'string', default: '4' },
    },
  });
  const seconds = Number(values.seconds);
  const maxTokens = Number(values['max-tokens']);
  const levels = String(values.streams).split(',').map(Number);
  const clients = String(values.only).split(',');
  const sim = await spawnSimulator({
    ttftMs: 0,
    ttftPerInputTokenMs: 0,
    itlMs: 0,
    itlJitterMs: 0,
    capacity: 100000,
    eosProbability: 0,
    zeroDelayEventsPerWrite: Number(values['events-per-write']),
  });
  const rows: Row[] = [];
  try {
    for (const streams of levels) {
      for (const client of clients) {
        const make = SENDERS[client];
        if (!make) throw new Error(`unknown client ${client}; known: ${Object.keys(SENDERS).join(', ')}`);
        const row = await measure(client, make, sim.url, streams, maxTokens, seconds);
        rows.push(row);
        process.stderr.write(
          `${client} ${streams} streams: ${fmt(row.cpu_us / Math.max(1, row.tokens), 2)} µs/token\n`,
        );
      }
    }
  } finally {
    await sim.close();
  }
  console.log(`client CPU per streamed token (user+system of this process; simulator in pid-separate child)`);
  console.log(`node ${process.version}, max_tokens ${maxTokens}, ~${seconds} s per row\n`);
  console.log(table(rows));
  const fast = classifyStats.fast;
  const slow = classifyStats.slow;
  console.log(`\nclassifier: ${fmt(fast)} events on the fast path, ${fmt(slow)} via JSON.parse`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
