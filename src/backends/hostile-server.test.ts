/**
 * Hostile servers: a raw node:http server on 127.0.0.1, started here, answers each
 * request with one misbehaviour (chosen by the request's index, from `x-request-id`):
 * streaming past max_tokens, long output without spaces or usage, 20,000 CJK
 * characters, a 16 MB SSE line, a stream with no newline, impossible usage numbers,
 * `choices: null`, bad chunked encoding, an error page without end; its `/version`
 * trickles forever and its `/metrics` is 48 MB. Through the real run path every
 * request must be recorded in its class and the run must complete in bounded time;
 * as a CLI child, the client must stay under 300 MB of RSS and end within 1 s of Ctrl-C.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, runFolderUnder } from '../cli/testing/harness.js';
import type { RequestRecord } from '../metrics/record.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { executeRun } from '../engine/run.js';
import { tokensAsked } from './openai.js';
import { UNSET_MAX_TOKENS } from './openai-request.js';

/** The output tokens every request asks for: room for 120,000 characters of text (see openai-request.ts). */
const MAX_TOKENS = 4000;
/** No server loop runs longer than this, whatever the client does. */
const SERVER_LOOP_MAX_MS = 30_000;
const RSS_LIMIT_BYTES = 300 * 1024 * 1024;

type Mode =
  | 'normal'
  | 'past-max-tokens'
  | 'no-space'
  | 'cjk'
  | 'line-16mb'
  | 'no-newline'
  | 'comments-forever'
  | 'usage-1e400'
  | 'usage-1e23'
  | 'usage-2.5'
  | 'usage-negative'
  | 'choices-null'
  | 'empty-generation'
  | 'bad-chunked'
  | 'error-body-forever'
  | 'json-forever'
  | 'drip';

/** What each mode must be recorded as: [status, error class, message pattern]. */
const EXPECTED: Record<Exclude<Mode, 'drip'>, [string, string | null, RegExp | null]> = {
  normal: ['ok', null, null],
  'past-max-tokens': ['error', 'oversize', /more than \d+ stream events/],
  'no-space': ['ok', null, null],
  cjk: ['ok', null, null],
  'line-16mb': ['error', 'oversize', /SSE line longer than 1048576 bytes/],
  'no-newline': ['error', 'oversize', /SSE line longer than 1048576 bytes/],
  // Comment lines are not events: only the byte bound (16 MiB + 16 KiB per token asked) ends it.
  'comments-forever': ['error', 'oversize', /response longer than 82313216 bytes/],
  'usage-1e400': ['error', 'protocol', /usage\.completion_tokens is Infinity/],
  'usage-1e23': ['error', 'protocol', /usage\.completion_tokens is 1e\+23/],
  'usage-2.5': ['error', 'protocol', /usage\.completion_tokens is 2\.5/],
  'usage-negative': ['error', 'protocol', /usage\.completion_tokens is -3/],
  'choices-null': ['error', 'protocol', /stream carried no content/],
  // No text, but the server's usage says it generated nothing: a real (empty) answer.
  'empty-generation': ['ok', null, null],
  'bad-chunked': ['error', 'protocol', /HPE_|does not match the HTTP\/1\.1 protocol/],
  'error-body-forever': ['error', 'http_5xx', /^HTTP 503: overloaded overloaded/],
  // `stream: true` ignored, and a JSON body without end: held whole, so bounded by its text's size.
  'json-forever': ['error', 'oversize', /response body longer than \d+ bytes/],
};
const RUN_MODES = Object.keys(EXPECTED) as Array<keyof typeof EXPECTED>;

const NO_SPACE_CHARS = 120_000;
const CJK_CHARS = 20_000;

let server: Server;
let baseUrl = '';
/** The modes the server cycles through, by request index. */
let modes: Mode[] = RUN_MODES;
let versionRequests = 0;
let metricsRequests = 0;
let drips = 0;
/** Called when the fourth dripping stream starts (the CLI test signals its child there). */
let onFourthDrip: (() => void) | null = null;

function event(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}
function content(text: string): string {
  return event({ choices: [{ index: 0, delta: { content: text } }] });
}

/**
 * Writes `next()` until it returns null, the client goes away, or the loop's time is up;
 * waits for 'drain' so the server holds no more than a socket buffer, and sleeps
 * `pauseMs` between writes when set.
 */
function pump(res: ServerResponse, next: () => string | Buffer | null, pauseMs = 0): void {
  const deadline = Date.now() + SERVER_LOOP_MAX_MS;
  let closed = false;
  res.on('close', () => (closed = true));
  const step = (): void => {
    while (!closed && Date.now() < deadline) {
      const chunk = next();
      if (chunk === null) {
        res.end();
        return;
      }
      if (pauseMs > 0) {
        res.write(chunk);
        setTimeout(step, pauseMs);
        return;
      }
      if (!res.write(chunk)) {
        res.once('drain', step);
        return;
      }
    }
    if (!closed) res.destroy();
  };
  step();
}

function stream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

function letters(n: number): string {
  let s = '';
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += String.fromCharCode(97 + (x % 26));
  }
  return s;
}

function cjkText(n: number): string {
  let s = '';
  let x = 777;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += String.fromCharCode(0x4e00 + (x % 3000));
  }
  return s;
}

const NO_SPACE = letters(NO_SPACE_CHARS);
const CJK = cjkText(CJK_CHARS);

/** A short normal stream, then a usage event whose completion_tokens is written raw. */
function badUsage(res: ServerResponse, raw: string): void {
  stream(res);
  res.write(content('hello'));
  res.write(content(' world'));
  res.write(
    `data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":${raw},"total_tokens":12}}\n\n`,
  );
  res.end('data: [DONE]\n\n');
}

function inChunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(content(text.slice(i, i + size)));
  return out;
}

function serveMode(mode: Mode, req: IncomingMessage, res: ServerResponse): void {
  switch (mode) {
    case 'normal':
      stream(res);
      res.write(content('hello'));
      res.write(content(' world'));
      res.write(event({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 } }));
      res.end('data: [DONE]\n\n');
      return;
    case 'past-max-tokens': {
      stream(res);
      const burst = content('hello ').repeat(64);
      pump(res, () => burst);
      return;
    }
    case 'no-space':
    case 'cjk': {
      stream(res);
      const events = inChunks(mode === 'cjk' ? CJK : NO_SPACE, 200);
      events.push('data: [DONE]\n\n');
      let i = 0;
      pump(res, () => (i < events.length ? (events[i++] as string) : null));
      return;
    }
    case 'line-16mb': {
      stream(res);
      const total = 16 * 1024 * 1024;
      const piece = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      res.write('data: {"choices":[{"index":0,"delta":{"content":"');
      pump(res, () => {
        if (sent >= total) return null;
        sent += piece.length;
        return sent >= total ? Buffer.concat([piece, Buffer.from('"}}]}\n\ndata: [DONE]\n\n')]) : piece;
      });
      return;
    }
    case 'no-newline': {
      stream(res);
      const piece = Buffer.alloc(64 * 1024, 'x');
      pump(res, () => piece);
      return;
    }
    case 'comments-forever': {
      stream(res);
      const comments = Buffer.from(': keep-alive\n'.repeat(4096));
      pump(res, () => comments);
      return;
    }
    case 'usage-1e400':
      return badUsage(res, '1e400');
    case 'usage-1e23':
      return badUsage(res, '1e23');
    case 'usage-2.5':
      return badUsage(res, '2.5');
    case 'usage-negative':
      return badUsage(res, '-3');
    case 'choices-null':
      stream(res);
      for (let i = 0; i < 5; i++) res.write(event({ id: 'x', choices: null }));
      res.end('data: [DONE]\n\n');
      return;
    case 'empty-generation':
      stream(res);
      res.write(event({ choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: 'stop' }] }));
      res.write(event({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 0, total_tokens: 10 } }));
      res.end('data: [DONE]\n\n');
      return;
    case 'bad-chunked':
      // Raw bytes: headers, one good chunk, then a chunk size that is not hexadecimal.
      req.socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n' +
          `${Buffer.byteLength(content('hi')).toString(16)}\r\n${content('hi')}\r\nzz\r\nnot a chunk\r\n`,
      );
      setTimeout(() => req.socket.destroy(), 200);
      return;
    case 'error-body-forever': {
      // An error page without end: the message is read from its first 64 KiB, the rest not waited for.
      res.writeHead(503, { 'content-type': 'text/plain' });
      const page = 'overloaded '.repeat(1000);
      pump(res, () => page);
      return;
    }
    case 'json-forever': {
      res.writeHead(200, { 'content-type': 'application/json' });
      const filler = `{"choices":[{"index":0,"message":{"content":"${'x'.repeat(60_000)}`;
      pump(res, () => filler);
      return;
    }
    case 'drip': {
      if (++drips === 4) onFourthDrip?.();
      stream(res);
      pump(res, () => content('drip '), 100);
      return;
    }
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  res.on('error', () => {});
  const path = (req.url ?? '').replace(/^\/hostile/, '');
  if (path === '/version') {
    versionRequests++;
    // Trickles forever: a byte at a time never trips a per-chunk timeout.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"version":"');
    pump(res, () => 'v', 50);
    return;
  }
  if (path === '/metrics') {
    metricsRequests++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const line = Buffer.from('vllm:num_requests_running{model_name="m"} 1\n'.repeat(1024));
    let sent = 0;
    pump(res, () => (sent >= 48 * 1024 * 1024 ? null : ((sent += line.length), line)));
    return;
  }
  if (req.method === 'POST' && path.endsWith('/chat/completions')) {
    const id = String(req.headers['x-request-id'] ?? '0-0');
    const index = Number(id.split('-')[1] ?? 0);
    serveMode(modes[index % modes.length] as Mode, req, res);
    return;
  }
  res.writeHead(404).end();
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hostile`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function records(dir: string): Promise<RequestRecord[]> {
  return (await readFile(join(dir, 'iterations', '000', 'requests.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as RequestRecord);
}

test(
  'every hostile response is recorded in its class and the run completes',
  { timeout: 45_000 },
  async () => {
    modes = RUN_MODES;
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-hostile-'));
    try {
      const job = jobFromCli({
        url: baseUrl,
        model: 'm',
        scenarios: [`D(10,${MAX_TOKENS})`],
        concurrency: [4],
        maxRequests: RUN_MODES.length,
        maxTimeMinutes: 1,
        // Far beyond what any case needs: each must end by its bound, not by the timeout.
        timeoutSeconds: 60,
        seed: 3,
      });
      const notices: string[] = [];
      const started = performance.now();
      const result = await executeRun({
        job,
        jobFile: null,
        endpoint: resolveEndpoint(job, {}),
        outRoot,
        events: { onNotice: (message) => notices.push(message) },
      });
      const elapsed_ms = performance.now() - started;
      console.log(`# hostile run: ${RUN_MODES.length} requests in ${elapsed_ms.toFixed(0)} ms`);
      assert.equal(result.interrupted, false);
      assert.ok(existsSync(join(result.dir, 'run.json')), 'run.json written');
      const summary = result.summaries[0]!;
      assert.equal(summary.ended_by, 'max_requests');
      // The /version probe trickles forever: bounded at 3 s. /metrics is 48 MB: refused at 32 MiB.
      assert.ok(versionRequests >= 1 && metricsRequests >= 1);
      assert.ok(elapsed_ms < 30_000, `run took ${elapsed_ms} ms`);
      assert.ok(
        notices.some((n) => /not scraped .*body over 33554432 bytes/.test(n)),
        notices.join('\n'),
      );

      const recs = await records(result.dir);
      assert.equal(recs.length, RUN_MODES.length);
      for (const rec of recs) {
        const mode = RUN_MODES[rec.index] as keyof typeof EXPECTED;
        const [status, errorClass, message] = EXPECTED[mode];
        const got = `${mode}: ${rec.status} ${rec.error_class} ${rec.error_message}`;
        assert.equal(rec.status, status, got);
        assert.equal(rec.error_class, errorClass, got);
        if (message) assert.match(rec.error_message ?? '', message, got);
        assert.ok(Number.isSafeInteger(rec.output_tokens) && rec.output_tokens >= 0, got);
      }
      const took = recs.map(
        (r) => `${RUN_MODES[r.index]} ${(((r.done_at_us ?? 0) - r.sent_at_us) / 1000).toFixed(0)} ms`,
      );
      console.log(`# per request: ${took.join(', ')}`);
      // Counting 120,000 characters at once held the event loop for 31 s; in slices, a few ms per turn.
      const lag = summary.flags.event_loop;
      console.log(`# event loop delay: p99 ${lag?.p99_ms} ms, max ${lag?.max_ms} ms`);
      assert.ok(lag !== null && lag.max_ms < 500, JSON.stringify(lag));
      const byMode = (mode: Mode): RequestRecord => recs.find((r) => RUN_MODES[r.index] === mode)!;
      // Counted by the tokenizer (no usage), whole: 120,000 letters and 20,000 CJK characters.
      assert.equal(byMode('no-space').output_chars, NO_SPACE_CHARS);
      assert.equal(byMode('no-space').output_tokens_source, 'tokenizer');
      assert.ok(byMode('no-space').output_tokens > NO_SPACE_CHARS / 10);
      assert.equal(byMode('cjk').output_chars, CJK_CHARS);
      assert.ok(byMode('cjk').output_tokens > CJK_CHARS / 2);
      assert.equal(byMode('normal').output_tokens, 2);
      assert.equal(byMode('empty-generation').output_tokens, 0);
      // Errored requests stay out of the throughput: only the four good ones completed.
      assert.equal(summary.requests.completed, 4);
      assert.equal(summary.requests.errors_by_class.oversize, 5);
      assert.equal(summary.requests.errors_by_class.protocol, 6);
      assert.equal(summary.requests.errors_by_class.http_5xx, 1);
      assert.ok(Number.isFinite(summary.output_throughput_tokens_per_s));
    } finally {
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);

/** VmRSS of a process, in bytes (Linux), or null when it cannot be read. */
function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

test(
  'the CLI stays under 300 MB against every hostile case and ends within 1 s of Ctrl-C',
  { timeout: 45_000 },
  async () => {
    // Every case, then streams that drip forever: Ctrl-C comes when four of them are in flight.
    modes = [...RUN_MODES, 'drip', 'drip', 'drip', 'drip'];
    drips = 0;
    const out = await mkdtemp(join(tmpdir(), 'infermark-hostile-cli-'));
    let maxRss = 0;
    let samples = 0;
    let sigintAt = 0;
    let sampler: NodeJS.Timeout | undefined;
    try {
      const result = await cli(
        [
          'run',
          ...['--url', baseUrl, '--model', 'm', '--scenario', `D(10,${MAX_TOKENS})`],
          ...['--concurrency', '4', '--max-requests', '200', '--timeout', '60'],
          ...['--out', out, '--no-warehouse'],
        ],
        {
          timeoutMs: 40_000,
          onSpawn: (child) => {
            onFourthDrip = () => {
              sigintAt = performance.now();
              child.kill('SIGINT');
            };
            sampler = setInterval(() => {
              const rss = child.pid === undefined ? null : rssBytes(child.pid);
              if (rss !== null) {
                samples++;
                maxRss = Math.max(maxRss, rss);
              }
            }, 20);
          },
        },
      );
      const exitedAfter_ms = performance.now() - sigintAt;
      clearInterval(sampler);
      console.log(
        `# hostile CLI: max RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB over ${samples} samples; ` +
          `exit ${result.code} ${exitedAfter_ms.toFixed(0)} ms after SIGINT`,
      );
      assert.ok(sigintAt > 0, `never signalled:\n${result.stderr}`);
      assert.equal(result.code, 130, result.stderr);
      assert.ok(exitedAfter_ms < 1000, `exited ${exitedAfter_ms} ms after SIGINT`);
      assert.ok(samples > 10, `only ${samples} RSS samples`);
      assert.ok(maxRss < RSS_LIMIT_BYTES, `max RSS ${maxRss} bytes`);
      assert.ok(existsSync(join(await runFolderUnder(out), 'run.json')));
    } finally {
      clearInterval(sampler);
      await rm(out, { recursive: true, force: true });
    }
  },
);

test('the bounds follow what the body asks: max_tokens or max_completion_tokens, times n', () => {
  assert.equal(tokensAsked({ max_tokens: 100 }), 100);
  assert.equal(tokensAsked({ max_tokens: 100, max_completion_tokens: 300 }), 300);
  assert.equal(tokensAsked({ max_tokens: 100, n: 4 }), 400);
  assert.equal(tokensAsked({ max_tokens: null }), UNSET_MAX_TOKENS);
  assert.equal(tokensAsked({ input: 'embed me' }), UNSET_MAX_TOKENS);
});
