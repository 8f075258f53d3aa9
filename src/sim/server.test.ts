/**
 * Tests of the simulator against the real server on loopback: the OpenAI/vLLM
 * wire shapes, token accounting, determinism, the latency model and every
 * injected fault, each compared with what the server says it did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from './server.js';
import { writesById, type RequestWrites } from './write-log.js';

interface StreamResult {
  status: number;
  headers: Headers;
  /** `data:` payloads in order (without the `data: ` prefix). */
  events: string[];
  /** performance.now() at which each event was parsed. */
  times_ms: number[];
  sent_ms: number;
  /** Set when the body failed mid-way (e.g. the server dropped the connection). */
  error?: unknown;
  /** Whole body for non-SSE responses. */
  text: string;
}

const FAST: Partial<SimulatorOptions> = { ttftMs: 0, ttftPerInputTokenMs: 0, itlMs: 0, itlJitterMs: 0 };

async function post(url: string, body: unknown, requestId?: string): Promise<StreamResult> {
  const sent_ms = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) },
    body: JSON.stringify(body),
  });
  const result: StreamResult = {
    status: res.status,
    headers: res.headers,
    events: [],
    times_ms: [],
    sent_ms,
    text: '',
  };
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      result.text += text;
      buffered += text;
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (event.startsWith('data: ')) {
          result.events.push(event.slice(6));
          result.times_ms.push(performance.now());
        }
        end = buffered.indexOf('\n\n');
      }
    }
  } catch (error) {
    result.error = error;
  }
  return result;
}

function chat(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'test-model', messages: [{ role: 'user', content }], stream: true, ...extra };
}

type Chunk = {
  choices: {
    delta?: { role?: string; content?: string; reasoning_content?: string };
    text?: string;
    finish_reason: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
};

/** Parsed JSON events (before [DONE]); throws on invalid JSON. */
function chunks(result: StreamResult): Chunk[] {
  return result.events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as Chunk);
}

/** Times of events carrying content, reasoning or completion text. */
function tokenTimes(result: StreamResult): number[] {
  const times: number[] = [];
  result.events.forEach((event, i) => {
    if (event === '[DONE]') return;
    const choice = (JSON.parse(event) as Chunk).choices[0];
    if (choice?.delta?.content || choice?.delta?.reasoning_content || choice?.text)
      times.push(result.times_ms[i] as number);
  });
  return times;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function withSim(
  options: Partial<SimulatorOptions>,
  body: (sim: SimulatorHandle) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator(options);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

test('chat stream: role chunk, one content chunk per token, finish, usage, [DONE]', async () => {
  await withSim(FAST, async (sim) => {
    const r = await post(
      `${sim.url}/v1/chat/completions`,
      chat('hello there', { max_tokens: 7, ignore_eos: true, stream_options: { include_usage: true } }),
    );
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(r.events.at(-1), '[DONE]');
    const c = chunks(r);
    assert.deepEqual(c[0]?.choices[0]?.delta, { role: 'assistant', content: '' });
    const content = c.slice(1, 8);
    assert.equal(content.length, 7);
    for (const chunk of content) {
      assert.match(chunk.choices[0]?.delta?.content ?? '', /^ [a-z]+$/);
      assert.equal(chunk.choices[0]?.finish_reason, null);
    }
    assert.equal(c[8]?.choices[0]?.finish_reason, 'length');
    assert.deepEqual(c[8]?.choices[0]?.delta, {});
    assert.deepEqual(c[9]?.choices, []);
    assert.deepEqual(c[9]?.usage, { prompt_tokens: 2, completion_tokens: 7, total_tokens: 9 });
    assert.equal(c.length, 10);
    assert.equal(sim.stats().completed, 1);
  });
});

test('no usage chunk unless asked; tokensPerChunk and reasoning tokens', async () => {
  await withSim({ ...FAST, tokensPerChunk: 3, reasoningTokens: 4 }, async (sim) => {
    const r = await post(`${sim.url}/v1/chat/completions`, chat('x', { max_tokens: 10, ignore_eos: true }));
    const c = chunks(r);
    assert.ok(c.every((chunk) => chunk.usage === undefined));
    const deltas = c.slice(1, -1).map((chunk) => chunk.choices[0]?.delta ?? {});
    assert.equal(deltas.length, 4); // 3 + 3 + 3 + 1 tokens
    const words = (s: string | undefined): number => (s ? s.trim().split(' ').length : 0);
    assert.deepEqual(
      deltas.map((d) => words(d.reasoning_content) + words(d.content)),
      [3, 3, 3, 1],
    );
    assert.equal(words(deltas.map((d) => d.reasoning_content ?? '').join('')), 4);
    assert.ok(deltas[1]?.reasoning_content && deltas[1]?.content, 'chunk 2 straddles reasoning and content');
  });
});

test('max_tokens is honoured with ignore_eos; eosProbability stops early without it; min_tokens bounds it', async () => {
  await withSim({ ...FAST, eosProbability: 0.2 }, async (sim) => {
    const usage = async (extra: Record<string, unknown>, prompt: string): Promise<[number, string]> => {
      const r = await post(
        `${sim.url}/v1/chat/completions`,
        chat(prompt, { max_tokens: 200, stream_options: { include_usage: true }, ...extra }),
      );
      const c = chunks(r);
      return [c.at(-1)?.usage?.completion_tokens ?? -1, c.at(-2)?.choices[0]?.finish_reason ?? ''];
    };
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await usage({ ignore_eos: true }, `p${i}`), [200, 'length']);
      const [early, reason] = await usage({}, `p${i}`);
      assert.ok(early < 200, `eos should stop before 200, got ${early}`);
      assert.equal(reason, 'stop');
      const [bounded] = await usage({ min_tokens: 50 }, `p${i}`);
      assert.ok(bounded >= 50);
    }
    const r = await post(
      `${sim.url}/v1/chat/completions`,
      chat('y', { max_completion_tokens: 3, ignore_eos: true, stream: false }),
    );
    assert.equal((JSON.parse(r.text) as Chunk).usage?.completion_tokens, 3);
  });
});

test('non-streaming chat and completions carry usage', async () => {
  await withSim(FAST, async (sim) => {
    const r = await post(
      `${sim.url}/v1/chat/completions`,
      chat('one two three', { stream: false, max_tokens: 4 }),
    );
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text) as {
      object: string;
      model: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'test-model');
    assert.equal(body.choices[0]?.message.role, 'assistant');
    assert.equal(body.choices[0]?.message.content.trim().split(' ').length, 4);
    assert.deepEqual(body.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });

    const c = await post(`${sim.url}/v1/completions`, { prompt: 'hello world', max_tokens: 5 });
    const cb = JSON.parse(c.text) as {
      object: string;
      choices: { text: string }[];
      usage: { completion_tokens: number };
    };
    assert.equal(cb.object, 'text_completion');
    assert.equal(cb.choices[0]?.text.trim().split(' ').length, 5);
    assert.equal(cb.usage.completion_tokens, 5);
  });
});

test('completions stream uses text chunks, no role chunk', async () => {
  await withSim(FAST, async (sim) => {
    const r = await post(`${sim.url}/v1/completions`, {
      prompt: 'abc',
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const c = chunks(r);
    assert.equal(r.events.at(-1), '[DONE]');
    assert.deepEqual(
      c.slice(0, 3).map((chunk) => /^ [a-z]+$/.test(chunk.choices[0]?.text ?? '')),
      [true, true, true],
    );
    assert.equal(c[3]?.choices[0]?.finish_reason, 'length');
    assert.equal(c[4]?.usage?.completion_tokens, 3);
  });
});

test('prompt tokens: o200k count of message text plus a fixed cost per image', async () => {
  await withSim({ ...FAST, imageTokens: 100 }, async (sim) => {
    const r = await post(`${sim.url}/v1/chat/completions`, {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'the quick brown fox' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
      max_tokens: 1,
      stream: false,
    });
    assert.equal((JSON.parse(r.text) as Chunk).usage?.prompt_tokens, 4 + 100);
  });
});

test('embeddings, models, health, version, 404 and 400', async () => {
  await withSim({ ...FAST, embeddingDim: 16 }, async (sim) => {
    const e = await post(`${sim.url}/v1/embeddings`, { model: 'emb', input: ['a b c', 'hello'] });
    const body = JSON.parse(e.text) as {
      data: { index: number; embedding: number[] }[];
      usage: { prompt_tokens: number };
    };
    assert.equal(body.data.length, 2);
    assert.equal(body.data[0]?.embedding.length, 16);
    const norm = Math.hypot(...(body.data[0]?.embedding ?? []));
    assert.ok(Math.abs(norm - 1) < 1e-4);
    assert.equal(body.usage.prompt_tokens, 4);
    const again = JSON.parse(
      (await post(`${sim.url}/v1/embeddings`, { input: 'a b c' })).text,
    ) as typeof body;
    assert.deepEqual(again.data[0]?.embedding, body.data[0]?.embedding);
    const b64 = JSON.parse(
      (await post(`${sim.url}/v1/embeddings`, { input: 'a b c', encoding_format: 'base64' })).text,
    ) as {
      data: { embedding: string }[];
    };
    assert.equal(Buffer.from(b64.data[0]?.embedding ?? '', 'base64').length, 16 * 4);

    const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as { data: { id: string }[] };
    assert.equal(models.data[0]?.id, 'infermark-sim');
    assert.equal((await fetch(`${sim.url}/health`)).status, 200);
    const version = (await (await fetch(`${sim.url}/version`)).json()) as { version: string };
    assert.equal(typeof version.version, 'string');
    assert.equal((await fetch(`${sim.url}/nope`)).status, 404);
    const bad = await post(`${sim.url}/v1/chat/completions`, { messages: [] });
    assert.equal(bad.status, 400);
    assert.equal(typeof (JSON.parse(bad.text) as { error: { message: string } }).error.message, 'string');
    assert.equal((await post(`${sim.url}/v1/chat/completions`, chat('x', { max_tokens: -1 }))).status, 400);
    assert.equal(sim.stats().badRequests, 2);
  });
});

test('/metrics exposes vLLM metric names with the served counts', async () => {
  await withSim(FAST, async (sim) => {
    await post(`${sim.url}/v1/chat/completions`, chat('hello there', { max_tokens: 5, ignore_eos: true }));
    const res = await fetch(`${sim.url}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:e2e_request_latency_seconds_bucket',
    ]) {
      assert.ok(text.includes(name), name);
    }
    assert.match(text, /^vllm:prompt_tokens_total\{model_name="infermark-sim"\} 2$/m);
    assert.match(text, /^vllm:generation_tokens_total\{model_name="infermark-sim"\} 5$/m);
    assert.match(
      text,
      /^vllm:request_success_total\{model_name="infermark-sim",finished_reason="length"\} 1$/m,
    );
    assert.match(text, /^vllm:time_to_first_token_seconds_count\{model_name="infermark-sim"\} 1$/m);
  });
});

test('text is deterministic for a seed and prompt, and differs across seeds and prompts', async () => {
  const textOf = async (seed: number, prompt: string): Promise<string> => {
    const sim = await startSimulator({ ...FAST, seed });
    try {
      const r = await post(
        `${sim.url}/v1/chat/completions`,
        chat(prompt, { max_tokens: 20, ignore_eos: true }),
      );
      return chunks(r)
        .map((c) => c.choices[0]?.delta?.content ?? '')
        .join('');
    } finally {
      await sim.close();
    }
  };
  const a = await textOf(1, 'hello');
  assert.equal(await textOf(1, 'hello'), a);
  assert.notEqual(await textOf(2, 'hello'), a);
  assert.notEqual(await textOf(1, 'goodbye'), a);
});

test('fixed TTFT and ITL: no event written before its absolute deadline, each read after it was written', async () => {
  await withSim(
    { ttftMs: 100, ttftPerInputTokenMs: 0, itlMs: 10, itlJitterMs: 0, batchSlowdown: 0, writeLogRequests: 8 },
    async (sim) => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          post(
            `${sim.url}/v1/chat/completions`,
            chat(`t${i}`, { max_tokens: 20, ignore_eos: true }),
            `t${i}`,
          ),
        ),
      );
      const log = writesById(sim.writeLog() ?? assert.fail('the write log is on'));
      const lateness: number[] = [];
      const reading: number[] = [];
      results.forEach((r, i) => {
        const writes = log.get(`t${i}`) as RequestWrites;
        const read = tokenTimes(r);
        assert.equal(writes.token_ms.length, 20);
        assert.equal(read.length, 20);
        writes.token_ms.forEach((at_ms, k) => {
          // Deadlines count from arrival (the scheduler may fire up to 0.5 ms early).
          const deadline_ms = writes.arrived_ms + 100 + 10 * k;
          assert.ok(at_ms >= deadline_ms - 0.5, `t${i} event ${k}: ${at_ms - deadline_ms} ms early`);
          lateness.push(at_ms - deadline_ms);
          const read_ms = performance.timeOrigin + (read[k] as number);
          assert.ok(read_ms >= at_ms - 0.5, `t${i} event ${k} read before it was written`);
          reading.push(read_ms - at_ms);
        });
      });
      // How late this host let the simulator write, and the client read: shown, and bounded
      // only against gross failure (the client shares this thread; the machine is shared).
      const figures = `server lateness p50 ${median(lateness).toFixed(2)} ms, client read after write p50 ${median(reading).toFixed(2)} ms`;
      console.log(`# ${figures}`);
      assert.ok(median(lateness) < 50, figures);
      assert.ok(median(reading) < 50, figures);
    },
  );
});

test('TTFT grows with prompt length (ttftPerInputTokenMs)', async () => {
  await withSim(
    { ttftMs: 10, ttftPerInputTokenMs: 1, itlMs: 0, itlJitterMs: 0, writeLogRequests: 2 },
    async (sim) => {
      const ttftOf = async (prompt: string, id: string): Promise<{ client: number; server: number }> => {
        const r = await post(`${sim.url}/v1/chat/completions`, chat(prompt, { max_tokens: 1 }), id);
        const w = writesById(sim.writeLog() ?? assert.fail('the write log is on')).get(id) as RequestWrites;
        return {
          client: (tokenTimes(r)[0] as number) - r.sent_ms,
          server: (w.token_ms[0] as number) - w.arrived_ms,
        };
      };
      const short = await ttftOf('hi', 'short');
      const long = await ttftOf(' the'.repeat(150), 'long');
      // 150 prompt tokens at 1 ms each: the long prompt's first token is never written before
      // 10 + 150 ms (the scheduler may fire 0.5 ms early), the short one's is due at about 11 ms.
      assert.ok(long.server >= 159.5, `long ${JSON.stringify(long)}`);
      assert.ok(long.client >= long.server - 0.5 && short.client >= short.server - 0.5);
      assert.ok(short.server >= 10.5, `short ${JSON.stringify(short)}`);
    },
  );
});

test('requests beyond capacity queue (num_requests_waiting) and their TTFT rises', async () => {
  await withSim(
    {
      ttftMs: 40,
      ttftPerInputTokenMs: 0,
      itlMs: 5,
      itlJitterMs: 0,
      capacity: 2,
      batchSlowdown: 0,
      writeLogRequests: 6,
    },
    async (sim) => {
      const pending = Array.from({ length: 6 }, (_, i) =>
        post(`${sim.url}/v1/chat/completions`, chat(`q${i}`, { max_tokens: 10, ignore_eos: true }), `q${i}`),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      const metrics = await (await fetch(`${sim.url}/metrics`)).text();
      assert.match(metrics, /^vllm:num_requests_waiting\{model_name="infermark-sim"\} 4$/m);
      assert.match(metrics, /^vllm:num_requests_running\{model_name="infermark-sim"\} 2$/m);
      const results = await Promise.all(pending);
      // From the write log: a request starts (its headers are written) only while fewer than
      // `capacity` others run, and a queued one starts as a running one ends (same tick).
      const log = (sim.writeLog() ?? assert.fail('the write log is on')).requests;
      const starts = log.map((w) => w.headers_ms as number).sort((a, b) => a - b);
      for (const w of log) {
        const at = w.headers_ms as number;
        const others = log.filter(
          (o) => o !== w && (o.headers_ms as number) <= at && at < (o.done_ms as number) - 1,
        );
        assert.ok(others.length < 2, `${w.request_id} started with ${others.length} running`);
      }
      for (const at of starts.slice(2)) {
        assert.ok(
          log.some((o) => Math.abs((o.done_ms as number) - at) < 2),
          `a queued request started at ${at} when no other ended`,
        );
      }
      // A queued request's TTFT clock starts when it gets its slot, after a whole earlier request
      // (40 + 9 × 5 ms of deadlines): its first token comes 40 ms after its admission (less the
      // 0.5 ms the scheduler may write early; its headers may go a fraction of a ms after the
      // admission, so they are not the reference), and later than any first-wave request could
      // have finished.
      const serverTtft = (w: RequestWrites): number => (w.token_ms[0] as number) - w.arrived_ms;
      const byStart = [...log].sort((a, b) => (a.headers_ms as number) - (b.headers_ms as number));
      const firstDone = Math.min(...byStart.slice(0, 2).map((w) => w.done_ms as number));
      for (const w of byStart.slice(2)) {
        assert.ok(
          (w.token_ms[0] as number) >= (w.admitted_ms as number) + 40 - 0.5 - 0.01,
          JSON.stringify(w),
        );
        assert.ok((w.headers_ms as number) >= firstDone - 1, JSON.stringify(w));
      }
      results.forEach((r, i) => {
        const w = log.find((o) => o.request_id === `q${i}`) as RequestWrites;
        assert.ok((tokenTimes(r)[0] as number) - r.sent_ms >= serverTtft(w) - 0.5, `q${i}`);
      });
      const stats = sim.stats();
      assert.equal(stats.peakRunning, 2);
      assert.equal(stats.peakWaiting, 4);
      assert.equal(stats.waiting, 0);
    },
  );
});

test('ITL grows with the number of running sequences (batchSlowdown)', async () => {
  await withSim(
    { ttftMs: 0, ttftPerInputTokenMs: 0, itlMs: 8, itlJitterMs: 0, capacity: 8, batchSlowdown: 1 },
    async (sim) => {
      const tpotOf = (r: StreamResult): number => {
        const t = tokenTimes(r);
        return ((t.at(-1) as number) - (t[0] as number)) / (t.length - 1);
      };
      const alone = tpotOf(
        await post(`${sim.url}/v1/chat/completions`, chat('a', { max_tokens: 15, ignore_eos: true })),
      );
      const crowd = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          post(`${sim.url}/v1/chat/completions`, chat(`c${i}`, { max_tokens: 15, ignore_eos: true })),
        ),
      );
      const crowded = median(crowd.map(tpotOf));
      assert.ok(alone < 10.5, `alone ${alone}`); // 8 × (1 + 1/8) = 9
      assert.ok(crowded > 13.5, `crowded ${crowded}`); // 8 × (1 + 8/8) = 16
    },
  );
});

test('fault: errorRate answers 500 with an OpenAI-style error', async () => {
  await withSim({ ...FAST, errorRate: 1 }, async (sim) => {
    const r = await post(`${sim.url}/v1/chat/completions`, chat('x', { max_tokens: 3 }));
    assert.equal(r.status, 500);
    const body = JSON.parse(r.text) as { error: { message: string; type: string } };
    assert.equal(body.error.type, 'server_error');
    assert.equal(sim.stats().injected.error, 1);
  });
});

test('fault: rate429 answers 429 with retry-after', async () => {
  await withSim({ ...FAST, rate429: 1 }, async (sim) => {
    const r = await post(`${sim.url}/v1/embeddings`, { input: 'x' });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(sim.stats().injected.rate429, 1);
  });
});

test('fault: disconnectRate drops the connection after some tokens', async () => {
  await withSim({ ...FAST, itlMs: 1, itlJitterMs: 0, disconnectRate: 1 }, async (sim) => {
    const r = await post(`${sim.url}/v1/chat/completions`, chat('x', { max_tokens: 20, ignore_eos: true }));
    assert.equal(r.status, 200);
    assert.ok(r.error, 'body read should fail');
    assert.notEqual(r.events.at(-1), '[DONE]');
    assert.ok(tokenTimes(r).length >= 1, 'some tokens arrived first');
    const stats = sim.stats();
    assert.equal(stats.injected.disconnect, 1);
    assert.equal(stats.completed, 0);
    assert.equal(stats.running, 0);
  });
});

test('fault: stallRate pauses the stream for stallMs, then it completes', async () => {
  await withSim({ ...FAST, itlMs: 2, itlJitterMs: 0, stallRate: 1, stallMs: 300 }, async (sim) => {
    const r = await post(`${sim.url}/v1/chat/completions`, chat('x', { max_tokens: 10, ignore_eos: true }));
    assert.equal(r.events.at(-1), '[DONE]');
    const t = tokenTimes(r);
    assert.equal(t.length, 10);
    const gaps = t.slice(1).map((v, i) => v - (t[i] as number));
    assert.ok(Math.max(...gaps) >= 280, `largest gap ${Math.max(...gaps)}`);
    assert.equal(sim.stats().injected.stall, 1);
  });
});

test('fault: malformedRate sends exactly one event of invalid JSON mid-stream', async () => {
  await withSim({ ...FAST, malformedRate: 1 }, async (sim) => {
    const r = await post(`${sim.url}/v1/chat/completions`, chat('x', { max_tokens: 10, ignore_eos: true }));
    assert.equal(r.events.at(-1), '[DONE]');
    const bad = r.events.filter((e) => {
      try {
        JSON.parse(e === '[DONE]' ? 'null' : e);
        return false;
      } catch {
        return true;
      }
    });
    assert.equal(bad.length, 1);
    assert.equal(sim.stats().injected.malformed, 1);
  });
});

test('mixed fault rates: the client sees exactly what the server counts, repeatably', async () => {
  const run = async (): Promise<string[]> => {
    const sim = await startSimulator({ ...FAST, seed: 7, errorRate: 0.2, rate429: 0.2, malformedRate: 0.2 });
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await post(
          `${sim.url}/v1/chat/completions`,
          chat(`m${i}`, { max_tokens: 3, ignore_eos: true }),
        );
        outcomes.push(
          r.status !== 200
            ? String(r.status)
            : r.events.some((e) => e.includes('"malformed"'))
              ? 'malformed'
              : 'ok',
        );
      }
      const stats = sim.stats();
      assert.equal(stats.injected.error, outcomes.filter((o) => o === '500').length);
      assert.equal(stats.injected.rate429, outcomes.filter((o) => o === '429').length);
      assert.equal(stats.injected.malformed, outcomes.filter((o) => o === 'malformed').length);
      assert.ok(stats.injected.error > 0 && stats.injected.rate429 > 0 && stats.injected.malformed > 0);
      return outcomes;
    } finally {
      await sim.close();
    }
  };
  assert.deepEqual(await run(), await run());
});

test('a client that goes away frees its slot; close() does not hang on open streams', async () => {
  const sim = await startSimulator({ ttftMs: 0, itlMs: 50, itlJitterMs: 0, capacity: 1 });
  const controller = new AbortController();
  const res = await fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify(chat('x', { max_tokens: 1000, ignore_eos: true })),
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  controller.abort();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(sim.stats().cancelled, 1);
  assert.equal(sim.stats().running, 0);
  // Another long stream stays open while we close.
  const open = await fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify(chat('y', { max_tokens: 1000, ignore_eos: true })),
  });
  const reading = open.text().catch(() => 'closed');
  const started = performance.now();
  await sim.close();
  assert.ok(performance.now() - started < 1000);
  await reading;
});

test('zero delay: many concurrent streams are all served', async () => {
  await withSim({ ...FAST, capacity: 1024 }, async (sim) => {
    const results = await Promise.all(
      Array.from({ length: 128 }, (_, i) =>
        post(`${sim.url}/v1/chat/completions`, chat(`z${i}`, { max_tokens: 200, ignore_eos: true })),
      ),
    );
    for (const r of results) {
      assert.equal(r.events.at(-1), '[DONE]');
      assert.equal(tokenTimes(r).length, 200);
    }
    assert.equal(sim.stats().generationTokens, 128 * 200);
  });
});

test('closeAfterResponse: a stream says keep-alive, then the server closes; a request sent meanwhile is never served', async () => {
  // A raw socket, so the test sees exactly what a keep-alive client sees on the wire.
  const sim = await startSimulator({ ...FAST, closeAfterResponse: true, closeDelayMs: 50 });
  try {
    const { port } = new URL(sim.url);
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true });
    const request = `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let secondSent = false;
    const ended = new Promise<boolean>((resolve) => {
      socket.on('end', () => resolve(true));
      socket.on('error', () => resolve(false));
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // The response is complete: write the next request on the same connection at once.
      if (!secondSent && received.includes('\r\n0\r\n\r\n')) {
        secondSent = true;
        socket.write(request);
      }
    });
    socket.write(request);
    await ended;
    socket.destroy();
    const head = received.slice(0, received.indexOf('\r\n\r\n')).toLowerCase();
    assert.match(head, /^http\/1\.1 200/);
    assert.match(head, /\r\nconnection: keep-alive\r\n/);
    assert.ok(received.includes('data: [DONE]'));
    assert.ok(secondSent);
    assert.equal(received.split('HTTP/1.1').length - 1, 1, 'one response only');
    const stats = sim.stats();
    assert.equal(stats.requests, 1, 'the second request was dropped unread');
    assert.equal(stats.completed, 1);
  } finally {
    await sim.close();
  }
});
