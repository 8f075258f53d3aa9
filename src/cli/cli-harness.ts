/**
 * Running the built CLI as a user does (`node dist/src/cli/main.js ...` in a child
 * process), for tests: exit code, signal, what it printed, and helpers to find
 * the run folder it left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
// dist/src/cli → the repository root, where examples/ lives.
/** The warehouse file the CLI's runs ingest into during this test process; removed at exit. */
export const TEST_WAREHOUSE = join(tmpdir(), `infermark-test-warehouse-${process.pid}.duckdb`);
process.once('exit', () => {
  for (const suffix of ['', '.wal']) rmSync(`${TEST_WAREHOUSE}${suffix}`, { force: true });
});

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI; `onStderr` sees stderr as it arrives and may signal the child.
 * Killed after `timeoutMs` so a hung CLI fails the test instead of the suite.
 */
export function cli(
  args: string[],
  options: {
    timeoutMs?: number;
    onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
    env?: NodeJS.ProcessEnv;
    /** Called once the child is started (to signal it on a condition of the test's own). */
    onSpawn?: (child: ReturnType<typeof spawn>) => void;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Runs ingest into a warehouse of this test process, never the user's own.
      env: {
        ...(options.env ?? process.env),
        INFERMARK_WAREHOUSE: options.env?.INFERMARK_WAREHOUSE ?? TEST_WAREHOUSE,
      },
    });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      options.onStderr?.(stderr, child);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function assertNoStack(result: CliResult): void {
  const output = result.stdout + result.stderr;
  assert.doesNotMatch(output, /^ {4}at /m, `stack trace printed:\n${output}`);
}

/** The one run folder under `outRoot` (it holds run.json). */
export async function runFolderUnder(outRoot: string): Promise<string> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    if (existsSync(join(dir, 'run.json'))) {
      found.push(dir);
      return;
    }
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
    }
  };
  await walk(outRoot);
  assert.equal(found.length, 1, `run folders under ${outRoot}: ${found.join(', ')}`);
  return found[0] as string;
}

export async function jsonLines(path: string): Promise<unknown[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}
