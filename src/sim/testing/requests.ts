/**
 * Test support: one streamed chat completion to a simulator on loopback, read to the end,
 * with the node that served it (the `x-infermark-sim-node` header) and the time it took.
 */
import { performance } from 'node:perf_hooks';

export interface ChatOutcome {
  status: number;
  node: string | null;
  /** `data:` events received, [DONE] included. */
  events: number;
  elapsed_ms: number;
}

/** POST a streamed chat completion of `maxTokens` tokens (EOS ignored) tagged `requestId`. */
export async function streamChat(url: string, requestId: string, maxTokens: number): Promise<ChatOutcome> {
  const start_ms = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({
      model: 'm',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: true,
      max_tokens: maxTokens,
      ignore_eos: true,
    }),
  });
  const text = await res.text();
  return {
    status: res.status,
    node: res.headers.get('x-infermark-sim-node'),
    events: text.split('\n\n').filter((e) => e.startsWith('data: ')).length,
    elapsed_ms: performance.now() - start_ms,
  };
}

/** Wait until `ready()` holds, polling every 10 ms for at most `limit_ms`; throws naming `what` when it never does. */
export async function waitFor(what: string, ready: () => Promise<boolean>, limit_ms = 5000): Promise<void> {
  const deadline_ms = performance.now() + limit_ms;
  while (performance.now() < deadline_ms) {
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out after ${limit_ms} ms waiting for ${what}`);
}
