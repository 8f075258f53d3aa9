/**
 * A run whose disk fills: the built CLI against the simulator (its own process),
 * writing its run folder onto a real, small, full file system. It must say which
 * file it could not write (relative to the run folder) and where the folder is,
 * with no "internal error" and no stack; leave no `.tmp-PID` file; and leave a
 * folder that `verify` reads as PARTIAL, not CORRUPT.
 *
 * The full file system is a 64 KiB tmpfs mounted in a private mount namespace
 * (`unshare -rm`, or `unshare -m` as root), so nothing outside the test sees it.
 * Where the kernel or the container allows neither, the test falls back to a
 * fault-injection seam and says so: the iteration's records file is made a
 * symlink to /dev/full (every write to it fails with ENOSPC, from the kernel)
 * while the run waits on `/version`, which a loopback front server holds until the
 * symlink is in place and passes everything else to the simulator. Set
 * INFERMARK_TEST_FULL_DISK=dev-full to take that path on a host that can mount.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoStack, cli, MAIN, ROOT, runArgs, simulatorFixture } from '../cli/testing/harness.js';
import { listFiles } from './manifest.js';
import { verifyRunFolder } from './verify.js';

const { sim } = simulatorFixture('infermark-disk-full-', {
  ttftMs: 1,
  ttftPerInputTokenMs: 0,
  itlMs: 0.2,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

const TMPFS_KIB = 64;

/** The command prefix that mounts a private tmpfs, or null where none can be mounted. */
function namespacePrefix(probeDir: string): string[] | null {
  if (process.env.INFERMARK_TEST_FULL_DISK === 'dev-full') return null;
  for (const prefix of [
    ['unshare', '-rm'],
    ['unshare', '-m'],
  ]) {
    const probe = spawnSync(
      prefix[0] as string,
      [...prefix.slice(1), 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0" && umount "$0"', probeDir],
      { stdio: 'ignore', timeout: 10_000 },
    );
    if (probe.status === 0) return prefix;
  }
  return null;
}

const shellQuote = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;

/** Enough records to fill 64 KiB many times over: ~1 KB each, 600 of them. */
function fillingRun(url: string, out: string): string[] {
  return runArgs({
    url,
    out,
    scenario: 'D(16,64)',
    concurrency: '8',
    maxRequests: 600,
    quiet: true,
    warehouse: false,
  });
}

interface Outcome {
  code: number | null;
  stderr: string;
  /** Where the run folders were written (inside the full file system). */
  out: string;
  /** A copy of them, readable by this process. */
  copy: string;
}

/** The run on a real full tmpfs, in its own mount namespace; the folder is copied out before it goes. */
async function runOnTmpfs(prefix: string[], dir: string): Promise<Outcome> {
  const mountPoint = join(dir, 'mnt');
  const copy = join(dir, 'copy');
  await mkdir(mountPoint);
  await mkdir(copy);
  const out = join(mountPoint, 'runs');
  const command = [process.execPath, MAIN, ...fillingRun(sim().url, out)].map(shellQuote).join(' ');
  const script = [
    `mount -t tmpfs -o size=${TMPFS_KIB}k tmpfs ${shellQuote(mountPoint)} || exit 90`,
    `${command} 2> ${shellQuote(join(dir, 'stderr'))}`,
    `echo $? > ${shellQuote(join(dir, 'code'))}`,
    `cp -a ${shellQuote(out)}/. ${shellQuote(copy)}/`,
  ].join('\n');
  const child = spawn(prefix[0] as string, [...prefix.slice(1), 'sh', '-c', script], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.equal(status, 0, 'the namespace script ran to its end');
  return {
    code: Number((await readFile(join(dir, 'code'), 'utf8')).trim()),
    stderr: await readFile(join(dir, 'stderr'), 'utf8'),
    out,
    copy,
  };
}

/** The fallback seam: the records file is a symlink to /dev/full, made while the run waits on /version. */
async function runThroughDevFull(dir: string): Promise<Outcome> {
  const out = join(dir, 'runs');
  const target = new URL(sim().url);
  const front = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url === '/version') {
      void (async () => {
        // run.json is written before the probes: the folder is there now.
        const [runId] = await readdir(out);
        const iteration = join(out, runId as string, 'iterations', '000');
        await mkdir(iteration, { recursive: true });
        await symlink('/dev/full', join(iteration, 'requests.jsonl'));
        response.statusCode = 404;
        response.end();
      })();
      return;
    }
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    const result = await cli(fillingRun(url, out), { timeoutMs: 60_000 });
    return { code: result.code, stderr: result.stderr, out, copy: out };
  } finally {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
  }
}

test('disk full: the failed file and the folder are named, no temp file is left, verify says PARTIAL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-full-'));
  try {
    const prefix = namespacePrefix(dir);
    const outcome = prefix ? await runOnTmpfs(prefix, dir) : await runThroughDevFull(dir);
    const how = prefix ? `a real ${TMPFS_KIB} KiB tmpfs (${prefix.join(' ')})` : 'the /dev/full seam';

    assert.equal(outcome.code, 1, `${how}: ${outcome.stderr}`);
    const said =
      /^infermark: cannot write (\S+) in the run folder (\S+): no space left on device \(ENOSPC\); the folder keeps what was written before it \(see: infermark verify \S+\)$/m.exec(
        outcome.stderr,
      );
    assert.ok(said, `${how}: ${outcome.stderr}`);
    const [, file, folder] = said as unknown as [string, string, string];
    assert.ok(!file.startsWith('/'), `the file is named relative to the run folder: ${file}`);
    assert.ok(folder.startsWith(`${outcome.out}/`), `the folder is the run's: ${folder}`);
    assert.doesNotMatch(outcome.stderr, /internal error/);
    assertNoStack({ code: outcome.code, signal: null, stdout: '', stderr: outcome.stderr });

    const [runId, ...others] = await readdir(outcome.copy);
    assert.ok(runId !== undefined && others.length === 0);
    assert.equal(folder, join(outcome.out, runId));
    const copied = join(outcome.copy, runId);
    const files = await listFiles(copied);
    assert.deepEqual(
      files.filter((path) => /\.tmp-\d+$/.test(path)),
      [],
      `no temp file is left: ${files.join(', ')}`,
    );
    assert.ok(existsSync(join(copied, 'run.json')));

    const report = await verifyRunFolder(copied);
    assert.equal(report.status, 'partial', `${how}: ${JSON.stringify(report.problems)}`);
    assert.deepEqual(report.problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** What the child reports after writing a document larger than the space left. */
interface WriteOutcome {
  code: string | null;
  relativePath: string | null;
  message: string;
  files: string[];
  runJson: string;
}

const RUN_FOLDER = new URL('./run-folder.js', import.meta.url).href;
const MANIFEST = new URL('./manifest.js', import.meta.url).href;

/** Writes run.json, then a 256 KiB summary.json into `folder`, and prints what happened as JSON. */
const WRITE_SCRIPT = `const [{ RunFolder }, { listFiles }] = await Promise.all([import(${JSON.stringify(RUN_FOLDER)}), import(${JSON.stringify(MANIFEST)})]);
const { readFile } = await import('node:fs/promises');
const dir = process.argv[1];
const folder = await RunFolder.create(dir);
await folder.writeJson('run.json', { run_id: 'r', plan: [] });
if (process.argv[2]) await (await import('node:fs/promises')).symlink('/dev/full', dir + '/summary.json.tmp-' + process.pid);
let outcome;
try {
  await folder.writeJson('summary.json', { filler: 'x'.repeat(256 * 1024) });
  outcome = { code: null, relativePath: null, message: 'written' };
} catch (error) {
  outcome = { code: error.code, relativePath: error.relativePath ?? null, message: error.message };
}
outcome.files = await listFiles(dir);
outcome.runJson = await readFile(dir + '/run.json', 'utf8');
process.stdout.write(JSON.stringify(outcome));`;

test('disk full: a JSON document that does not fit leaves no temp file and the file before it whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-full-'));
  try {
    const prefix = namespacePrefix(dir);
    const mountPoint = join(dir, 'mnt');
    await mkdir(mountPoint);
    const folder = join(mountPoint, 'run');
    const node = [process.execPath, '--input-type=module', '-e', WRITE_SCRIPT, folder];
    // Without a mount, the temp file of the write is a symlink to /dev/full (the seam described above).
    const [command, ...args] = prefix
      ? [
          ...prefix,
          'sh',
          '-c',
          `mount -t tmpfs -o size=${TMPFS_KIB}k tmpfs "$0" && exec "$@"`,
          mountPoint,
          ...node,
        ]
      : [...node, 'dev-full'];
    const child = spawnSync(command as string, args, { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    const outcome = JSON.parse(child.stdout) as WriteOutcome;
    assert.equal(outcome.code, 'E_RUN_FOLDER_WRITE', outcome.message);
    assert.equal(outcome.relativePath, 'summary.json');
    assert.equal(
      outcome.message,
      `cannot write summary.json in the run folder ${folder}: no space left on device (ENOSPC); the folder keeps what was written before it (see: infermark verify ${folder})`,
    );
    assert.deepEqual(outcome.files, ['run.json'], 'no temp file, no half summary.json');
    assert.deepEqual(JSON.parse(outcome.runJson), { run_id: 'r', plan: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
