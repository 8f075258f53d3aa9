/**
 * The deadline of one attempt: a call that stops moving is aborted after the idle
 * time and reported as a failure the retry policy retries; a call that keeps moving
 * may take longer than that; a call's own failure passes through unchanged. Real
 * timers and a real loopback server that never answers; the idle time is shortened
 * for the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ATTEMPT_TIMEOUTS, withIdleDeadline } from './attempt-deadline.js';
import { isRetryable, StorageError } from './storage-error.js';

test('ATTEMPT_TIMEOUTS: 10 s to connect, 60 s without progress', () => {
  assert.deepEqual(ATTEMPT_TIMEOUTS, { connectMs: 10_000, idleMs: 60_000 });
});

test('withIdleDeadline: a request to a server that never answers is aborted after the idle time, retryably', async () => {
  const server = createServer((req) => req.resume());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const started = Date.now();
    const error = await withIdleDeadline(
      'az://a/c: head k',
      ({ signal }) =>
        new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/', signal }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end();
        }),
      200,
    ).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.retryable, true);
    assert.equal(isRetryable(error), true);
    assert.match(error.message, /^az:\/\/a\/c: head k: no progress for 0\.2 s$/);
    // Not before the idle time; well before the test's own limits on a busy host.
    assert.ok(elapsed >= 190 && elapsed < 5_000, `${elapsed} ms`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('withIdleDeadline: progress restarts the deadline, so a call that keeps moving outlasts the idle time', async () => {
  const started = Date.now();
  const value = await withIdleDeadline(
    'k',
    async ({ signal, progress }) => {
      for (let i = 0; i < 8; i++) {
        await sleep(50);
        assert.equal(signal.aborted, false, `aborted after ${Date.now() - started} ms`);
        progress();
      }
      return 'done';
    },
    150,
  );
  assert.equal(value, 'done');
  assert.ok(Date.now() - started >= 300);
});

test("withIdleDeadline: the call's own failure passes through, and its timer is cleared", async () => {
  const own = new Error('403 AuthorizationFailure');
  const error = await withIdleDeadline('k', async () => {
    throw own;
  }).catch((e: unknown) => e);
  assert.equal(error, own);
  // A timer left behind (60 s) would keep this test process alive past the test's end.
});

test("isRetryable: the GCS client's timeout (node-fetch FetchError, request or body) may pass", () => {
  for (const type of ['request-timeout', 'body-timeout']) {
    const error = Object.assign(new Error('network timeout at: http://127.0.0.1:1/storage/v1/b/x'), {
      name: 'FetchError',
      type,
    });
    assert.equal(isRetryable(error), true, type);
  }
  const refused = Object.assign(new Error('invalid json response body'), {
    name: 'FetchError',
    type: 'invalid-json',
  });
  assert.equal(isRetryable(refused), false);
});
