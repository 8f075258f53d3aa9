/**
 * The evidence page's reading, on real files in a temporary run folder (the
 * warehouse side, which artifact and where, is covered by server.test.ts):
 * the pointed line highlighted inside a bounded window, a gzip scrape shown
 * decompressed, long lines cut, a changed file flagged, a location that lacks the
 * file skipped for the next, and every bad parameter a 400.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { sha256 } from '../base/digest.js';
import {
  evidencePage,
  MAX_LINE_CHARS,
  parseEvidenceParams,
  readEvidence,
  WINDOW_LINES,
  type EvidenceSource,
} from './evidence-page.js';

async function folder(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-evidence-test-'));
  for (const [path, body] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), body);
  }
  return dir;
}

function source(uris: string[], path: string, body: string | Buffer): EvidenceSource {
  return {
    run_id: 'run-1',
    path,
    sha256: sha256(typeof body === 'string' ? Buffer.from(body) : body),
    size_bytes: Buffer.byteLength(body),
    uris,
    run_prefix: 'run-1',
  };
}

const jsonl = (n: number): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ request_id: `r-${i + 1}`, note: '<b>x</b>' })).join(
    '\n',
  ) + '\n';

test('a JSONL line: highlighted in a window of lines around it, digest ok, markup escaped', async () => {
  const body = jsonl(1000);
  const dir = await folder({ 'iterations/001/requests.jsonl': body });
  try {
    const v = await readEvidence(source([dir], 'iterations/001/requests.jsonl', body), {
      path: 'iterations/001/requests.jsonl',
      line: 500,
    });
    assert.equal(v.digest, 'ok');
    assert.equal(v.location, dir);
    assert.equal(v.first_line, 500 - WINDOW_LINES);
    assert.equal(v.lines.length, 2 * WINDOW_LINES + 1);
    assert.equal(v.lines[500 - v.first_line], JSON.stringify({ request_id: 'r-500', note: '<b>x</b>' }));
    assert.equal(v.more, true);
    assert.equal(v.line_found, true);
    const html = evidencePage(v, 'nonce1');
    const highlighted = [...html.matchAll(/<tr id="L(\d+)"[^>]*data-highlighted="true"/g)].map((m) => m[1]);
    assert.deepEqual(highlighted, ['500']);
    assert.match(html, /data-testid="evidence-digest" data-state="ok"/);
    assert.ok(!html.includes('<b>x</b>'));
    assert.match(html, /<script nonce="nonce1">const l=document.getElementById\('L500'\)/);
    // The last line, and a line past the end.
    const end = await readEvidence(source([dir], 'iterations/001/requests.jsonl', body), {
      path: 'iterations/001/requests.jsonl',
      line: 1000,
    });
    assert.equal(end.lines.at(-1), JSON.stringify({ request_id: 'r-1000', note: '<b>x</b>' }));
    assert.equal(end.more, false);
    const past = await readEvidence(source([dir], 'iterations/001/requests.jsonl', body), {
      path: 'iterations/001/requests.jsonl',
      line: 1300,
    });
    assert.equal(past.line_found, false);
    assert.match(evidencePage(past, 'n'), /data-testid="evidence-no-line"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a gzip scrape is shown decompressed; a long line is cut; a changed file is flagged', async () => {
  const scrape =
    '# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting 3\n' + 'x'.repeat(MAX_LINE_CHARS + 50);
  const gz = gzipSync(scrape);
  const dir = await folder({ 'iterations/000/telemetry/server-0001.prom.gz': gz });
  try {
    const v = await readEvidence(source([dir], 'iterations/000/telemetry/server-0001.prom.gz', gz), {
      path: 'iterations/000/telemetry/server-0001.prom.gz',
      line: 2,
    });
    assert.equal(v.decompressed, true);
    assert.equal(v.digest, 'ok');
    assert.deepEqual(v.lines.slice(0, 2), scrape.split('\n').slice(0, 2));
    assert.equal(v.lines[2]?.length, MAX_LINE_CHARS);
    assert.deepEqual(v.cut, [3]);
    const changed = await readEvidence(
      { ...source([dir], 'iterations/000/telemetry/server-0001.prom.gz', gz), sha256: sha256('other') },
      { path: 'iterations/000/telemetry/server-0001.prom.gz' },
    );
    assert.equal(changed.digest, 'changed');
    assert.match(evidencePage(changed, 'n'), /data-state="changed"[^>]*>sha256 CHANGED/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a location without the file is skipped for the next; none at all is a 404', async () => {
  const body = jsonl(3);
  const empty = await folder({});
  const dir = await folder({ 'run.json': body });
  try {
    const v = await readEvidence(source([empty, dir], 'run.json', body), { path: 'run.json', line: 2 });
    assert.equal(v.location, dir);
    assert.deepEqual(v.skipped, [`${empty}: missing`]);
    await assert.rejects(readEvidence(source([empty], 'run.json', body), { path: 'run.json' }), {
      status: 404,
      code: 'E_NO_EVIDENCE',
    });
  } finally {
    await rm(empty, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
});

test('a run folder gone from disk: the copy in a store it was uploaded to is fetched, checked and shown', async () => {
  const body = jsonl(5);
  const gone = join(tmpdir(), 'infermark-evidence-test-gone-folder');
  const store = await folder({ 'results/run-1/iterations/000/requests.jsonl': body });
  try {
    const uri = pathToFileURL(store).href;
    const v = await readEvidence(
      { ...source([uri, gone], 'iterations/000/requests.jsonl', body), run_prefix: 'results/run-1' },
      { path: 'iterations/000/requests.jsonl', line: 4 },
    );
    // The local folder is tried first, whatever order the URIs were recorded in.
    assert.deepEqual(v.skipped, [`${gone}: missing`]);
    assert.equal(v.location, uri);
    assert.equal(v.digest, 'ok');
    assert.equal(v.lines[3], JSON.stringify({ request_id: 'r-4', note: '<b>x</b>' }));
  } finally {
    await rm(store, { recursive: true, force: true });
  }
});

test('parameters: a safe relative path and a line ≥ 1, once each, nothing else', () => {
  const parse = (query: string): unknown => parseEvidenceParams(new URLSearchParams(query));
  assert.deepEqual(parse('path=iterations/001/requests.jsonl&line=7'), {
    path: 'iterations/001/requests.jsonl',
    line: 7,
  });
  assert.deepEqual(parse('path=run.json&token=t'), { path: 'run.json' });
  for (const bad of [
    '',
    'path=',
    'path=../x',
    'path=/etc/passwd',
    'path=a//b',
    'path=a%5Cb',
    'path=a&line=0',
    'path=a&line=-1',
    'path=a&line=x',
    'path=a&path=b',
    'path=a&other=1',
  ]) {
    assert.throws(() => parse(bad), { status: 400, code: 'E_BAD_PARAM' }, bad);
  }
});
