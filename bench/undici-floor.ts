/**
 * The floor under any undici-based client, shared by `bench:client` and the
 * self-gate: undici's `dispatch` with a handler that ignores every byte, driven
 * in a closed loop. What a client costs above this, on the same host at the same
 * moment, is its own parsing, stamping and bookkeeping; the floor itself is the
 * host's (kernel, libuv, Node's streams, undici's HTTP parser) and differs
 * between hosts by 2× and more.
 */
import { Pool } from 'undici';

/** Sends request `index`; resolves with the tokens it streamed and whether it succeeded. */
export type SendOne = (index: number) => Promise<{ tokens: number; ok: boolean }>;

/** A client under test: its sender and how to release its connections. */
export interface Sender {
  send: SendOne;
  close: () => Promise<void>;
}

/** The streamed chat request every comparison client sends. */
export function chatBody(maxTokens: number): string {
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
 * `dispatch` with a handler that ignores every byte (tokens are credited as
 * max_tokens, since nothing is parsed; the simulator is told to ignore EOS).
 */
export function undiciFloorSender(url: string, streams: number, maxTokens: number): Sender {
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

/** `streams` workers send until `total` requests have been sent; the tokens and failures they saw. */
export async function runClosedLoop(
  streams: number,
  total: number,
  send: SendOne,
): Promise<{ tokens: number; errors: number }> {
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
  await Promise.all(Array.from({ length: Math.min(streams, total) }, worker));
  return { tokens, errors };
}

/** The floor's CPU (user + system of this process) per streamed token and per request. */
export interface FloorCost {
  cpu_us_per_token: number;
  cpu_us_per_request: number;
}

/**
 * The floor at `streams` concurrent streams: a warmup pass (JIT, connections),
 * then `requests` requests measured.
 */
export async function measureUndiciFloor(
  url: string,
  streams: number,
  requests: number,
  maxTokens: number,
): Promise<FloorCost> {
  const sender = undiciFloorSender(url, streams, maxTokens);
  try {
    await runClosedLoop(streams, Math.max(streams * 4, Math.ceil(requests / 4)), sender.send);
    const cpu0 = process.cpuUsage();
    const { tokens } = await runClosedLoop(streams, requests, sender.send);
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = cpu.user + cpu.system;
    return {
      cpu_us_per_token: cpuUs / Math.max(1, tokens),
      cpu_us_per_request: cpuUs / Math.max(1, requests),
    };
  } finally {
    await sender.close();
  }
}
