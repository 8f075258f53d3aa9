import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerLog, startLogServer, tailLines, type LogServer } from './container-log.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infermark-container-log-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a log stops at its limit with a note, and says so to followers', async () => {
  const log = new ContainerLog(join(dir, 'bounded.log'), 10);
  const seen: Buffer[] = [];
  log.on('data', (chunk: Buffer) => seen.push(chunk));
  log.write(Buffer.from('12345678'));
  log.write(Buffer.from('abcdef'));
  log.write(Buffer.from('dropped'));
  log.end();
  const text = await readFile(log.path, 'utf8');
  assert.equal(text, '12345678ab\n[log truncated at 10 bytes]\n');
  assert.equal(Buffer.concat(seen).toString(), text);
  assert.equal(log.tail(6), 'ytes]\n');
  assert.ok(log.ended);
});

test('tailLines keeps the last lines, a final newline not counting as one', () => {
  const text = Buffer.from('a\nb\nc\n');
  assert.equal(tailLines(text, 1).toString(), 'c\n');
  assert.equal(tailLines(text, 2).toString(), 'b\nc\n');
  assert.equal(tailLines(text, 9).toString(), 'a\nb\nc\n');
  assert.equal(tailLines(Buffer.from('a\nb'), 1).toString(), 'b');
  assert.equal(tailLines(text, 0).toString(), '');
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}

// The server needs a key and certificate: the control plane's in the Kubernetes tests, one
// made by openssl here (skipped where there is none).
let openssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  openssl = false;
}

test(
  'the kubelet API serves a container log: tailLines, limitBytes, follow, 404',
  { skip: !openssl && 'no openssl' },
  async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const log = new ContainerLog(join(dir, 'served.log'));
    log.write(Buffer.from('one\ntwo\nthree\n'));
    const server: LogServer = await startLogServer(
      { key: await readFile(key), cert: await readFile(cert) },
      (namespace, pod, container) => (namespace === 'ns' && pod === 'p' && container === 'c' ? log : null),
    );
    try {
      assert.deepEqual(await get(server.port, '/containerLogs/ns/p/c'), {
        status: 200,
        body: 'one\ntwo\nthree\n',
      });
      assert.equal((await get(server.port, '/containerLogs/ns/p/c?tailLines=2')).body, 'two\nthree\n');
      assert.equal((await get(server.port, '/containerLogs/ns/p/c?limitBytes=5')).body, 'one\nt');
      assert.equal((await get(server.port, '/containerLogs/ns/p/other')).status, 404);
      assert.equal((await get(server.port, '/pods')).status, 404);

      const followed = get(server.port, '/containerLogs/ns/p/c?follow=true&tailLines=1');
      // The follower has subscribed once the log has a listener.
      for (let i = 0; i < 100 && log.listenerCount('data') === 0; i += 1)
        await new Promise((r) => setTimeout(r, 20));
      log.write(Buffer.from('four\n'));
      log.end();
      assert.equal((await followed).body, 'three\nfour\n');
    } finally {
      await server.close();
    }
  },
);
