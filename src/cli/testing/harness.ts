/**
 * Running the built CLI as a user does (`node dist/src/cli/main.js ...` in a child
 * process), for tests: exit code, signal, what it printed, and helpers to find
 * the run folder it left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SimulatorOptions } from '../../sim/options.js';
import { spawnSimulator, type SpawnedSimulator } from '../../sim/spawn.js';

export const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
/** The warehouse file the CLI's runs ingest into during this test process; removed at exit. */
export const TEST_WAREHOUSE = join(tmpdir(), `infermark-test-warehouse-${process.pid}.duckdb`);
process.once('exit', () => {
  for (const suffix of ['', '.wal']) rmSync(`${TEST_WAREHOUSE}${suffix}`, { force: true });
});

// dist/src/cli/testing → the repository root, where examples/ lives.
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

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

/**
 * Runs the CLI with `args` (a run writing under `out`), asserts it exits 0 (with
 * its stderr as the message), and returns the one run folder under `out`.
 */
export async function cliRunFolder(
  args: string[],
  out: string,
  options: Parameters<typeof cli>[1] = {},
): Promise<string> {
  const result = await cli(args, options);
  assert.equal(result.code, 0, result.stderr);
  return runFolderUnder(out);
}

export async function jsonLines(path: string): Promise<unknown[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}

/** What a test file's simulator fixture holds once its `before` hook has run. */
export interface SimulatorFixture {
  /** The simulator, in its own process. */
  sim(): SpawnedSimulator;
  /** A fresh temporary folder, removed with everything in it at the end. */
  tmp(): string;
}

/** A test file's own setup on top of the fixture's: run inside its hooks, so in this order. */
export interface FixtureHooks {
  /** Runs once the simulator listens and the folder exists (in `before`). */
  setUp?: () => Promise<void>;
  /** Runs before the simulator is closed and the folder removed (in `after`). */
  tearDown?: () => Promise<void>;
}

/**
 * Registers node:test `before`/`after` hooks for the whole file: a simulator with
 * `options` in its own process and a temporary folder named `${prefix}XXXXXX`,
 * closed and removed after the file's tests. Setup that needs them goes in
 * `hooks`, not in a top-level `before` of the file: node:test does not wait for
 * this hook before starting that one.
 */
export function simulatorFixture(
  prefix: string,
  options: Partial<SimulatorOptions>,
  hooks: FixtureHooks = {},
): SimulatorFixture {
  let sim: SpawnedSimulator | undefined;
  let tmp: string | undefined;
  before(async () => {
    // The model the runs here name (runArgs, writeJobYaml): `run` checks it at /v1/models first.
    sim = await spawnSimulator({ model: 'm', ...options });
    tmp = await mkdtemp(join(tmpdir(), prefix));
    await hooks.setUp?.();
  });
  after(async () => {
    try {
      await hooks.tearDown?.();
    } finally {
      await sim?.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    }
  });
  return {
    sim: () => sim ?? assert.fail('the simulator is started in the before hook'),
    tmp: () => tmp ?? assert.fail('the temporary folder is made in the before hook'),
  };
}

/** One `run` from command-line flags (model `m`). */
export interface RunArgs {
  /** The endpoint's base URL (a simulator's `url`). */
  url: string;
  /** Where the run folder goes (`--out`). */
  out: string;
  /** One `--scenario` each. */
  scenario: string | string[];
  /** The `--concurrency` list, as typed: `'1,2'`. */
  concurrency: string;
  maxRequests: number;
  /** Adds `--quiet`. */
  quiet?: boolean;
  /** A warehouse file to ingest into, or `false` for `--no-warehouse`; left out, the CLI's own default. */
  warehouse?: string | false;
  /** Further flags, last. */
  extra?: string[];
}

/** A short run of two iterations: D(16,6) at concurrency 1 and 2, 5 requests each, quiet. */
export const SMALL_RUN = { scenario: 'D(16,6)', concurrency: '1,2', maxRequests: 5, quiet: true } as const;

/** The CLI arguments of `run` with flags: `run --url … --model m --scenario … --out … [--quiet] [--warehouse …]`. */
export function runArgs(options: RunArgs): string[] {
  const scenarios = typeof options.scenario === 'string' ? [options.scenario] : options.scenario;
  return [
    'run',
    '--url',
    options.url,
    '--model',
    'm',
    ...scenarios.flatMap((scenario) => ['--scenario', scenario]),
    '--concurrency',
    options.concurrency,
    '--max-requests',
    String(options.maxRequests),
    '--out',
    options.out,
    ...(options.quiet ? ['--quiet'] : []),
    ...(options.warehouse === undefined
      ? []
      : options.warehouse === false
        ? ['--no-warehouse']
        : ['--warehouse', options.warehouse]),
    ...(options.extra ?? []),
  ];
}

/** The `serviceMetadata` line of a job served by vLLM 0.6.0 on two H100s. */
export const VLLM_ON_2_H100 =
  "serviceMetadata: { engine: vLLM, version: '0.6.0', gpuType: H100, gpuCount: 2 }";

/** A BenchmarkJob against an OpenAI chat endpoint (model `m`, text-to-text). */
export interface JobYaml {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** The endpoint's base URL (a simulator's `url`); `/v1/chat/completions` is appended. */
  url: string;
  scenarios: string[];
  concurrency: number[];
  maxRequestsPerIteration: number;
  /** Seconds; 1 when left out. */
  maxTimePerIteration?: number;
  /** Further lines of `spec`, as YAML relative to it: `costPerHourUsd: 7.2`. */
  spec?: string[];
}

/** Writes `job` as BenchmarkJob YAML to `path`, and returns `path`. */
export async function writeJobYaml(path: string, job: JobYaml): Promise<string> {
  const metadata = [`  name: ${job.name}`];
  if (job.namespace !== undefined) metadata.push(`  namespace: ${job.namespace}`);
  if (job.labels !== undefined) {
    metadata.push('  labels:', ...Object.entries(job.labels).map(([key, value]) => `    ${key}: ${value}`));
  }
  const lines = [
    'apiVersion: ome.io/v1beta1',
    'kind: BenchmarkJob',
    'metadata:',
    ...metadata,
    'spec:',
    '  endpoint:',
    '    endpoint:',
    `      url: '${job.url}/v1/chat/completions'`,
    '      apiFormat: openai',
    '      modelName: m',
    '  task: text-to-text',
    `  trafficScenarios: [${job.scenarios.map((scenario) => `'${scenario}'`).join(', ')}]`,
    `  numConcurrency: [${job.concurrency.join(', ')}]`,
    `  maxTimePerIteration: ${job.maxTimePerIteration ?? 1}`,
    `  maxRequestsPerIteration: ${job.maxRequestsPerIteration}`,
    ...(job.spec ?? []).map((line) => `  ${line}`),
  ];
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}
