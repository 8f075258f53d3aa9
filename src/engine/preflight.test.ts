// The preflight's model check against raw node:http servers on loopback: a listed model, a
// missing one, and answers it must not trust (too big, too slow, not a list), each bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkModelServed, isListed, notServedMessage } from './preflight.js';

async function withServer<T>(handler: RequestListener, body: (url: string) => Promise<T>): Promise<T> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const list =
  (ids: string[]): RequestListener =>
  (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'list',
        data: ids.map((id) => ({ id, object: 'model' })),
        seen: req.headers.authorization,
      }),
    );
  };

test('a listed model is served; an unlisted one gets the list (bounded) and a near match', async () => {
  const ids = [
    'meta-llama/Llama-3.1-8B-Instruct',
    ...Array.from({ length: 24 }, (_, i) => `m${i}`),
    'bad\u0007id',
  ];
  await withServer(list(ids), async (url) => {
    assert.deepEqual(await checkModelServed(url, 'm3'), { outcome: 'served', url: `${url}/v1/models` });
    const missing = await checkModelServed(url, 'meta-llama/llama-3.1-8b-instruct');
    assert.equal(missing.outcome, 'not_served');
    const text = notServedMessage(
      missing as { url: string; models: string[] },
      'meta-llama/llama-3.1-8b-instruct',
    );
    assert.match(
      text,
      /^not served by http:\/\/127\.0\.0\.1:\d+\/v1\/models, which lists "meta-llama\/Llama-3\.1-8B-Instruct", "m0", /,
    );
    assert.match(text, / and 6 more \(did you mean "meta-llama\/Llama-3\.1-8B-Instruct"\?\); --no-preflight/);
  });
});

test('answers it cannot use are notices, each bounded: 404, too big, too slow, not a list', async () => {
  await withServer(
    (_req, res) => res.writeHead(404).end('no'),
    async (url) => {
      assert.deepEqual(await checkModelServed(url, 'm'), {
        outcome: 'unchecked',
        url: `${url}/v1/models`,
        reason: 'the server has no model list (HTTP 404)',
      });
    },
  );
  // An endless body: cut at the byte bound.
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    },
    async (url) => {
      const result = await checkModelServed(url, 'm', {}, { maxBytes: 256 * 1024 });
      assert.deepEqual(result, {
        outcome: 'unchecked',
        url: `${url}/v1/models`,
        reason: 'the answer is over 262144 bytes',
      });
    },
  );
  // Headers sent, then nothing: cut at the time bound.
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data": [');
    },
    async (url) => {
      const started = performance.now();
      const result = await checkModelServed(url, 'm', {}, { timeoutMs: 300 });
      assert.equal(result.outcome, 'unchecked');
      assert.match((result as { reason: string }).reason, /no answer within 300 ms/);
      assert.ok(performance.now() - started < 5_000);
    },
  );
  await withServer(
    (_req, res) => res.writeHead(200).end('<html>hello</html>'),
    async (url) => {
      assert.equal(
        ((await checkModelServed(url, 'm')) as { reason: string }).reason,
        'the answer is not an OpenAI model list',
      );
    },
  );
});

test('a name without a tag matches its :latest (Ollama lists llama3.2:latest and answers to llama3.2)', () => {
  assert.equal(isListed('llama3.2', ['llama3.2:latest']), true);
  assert.equal(isListed('llama3.2:latest', ['llama3.2:latest']), true);
  assert.equal(isListed('llama3.2:1b', ['llama3.2:latest']), false);
  assert.equal(isListed('llama3.2', ['llama3.2:1b']), false);
});
