/**
 * `infermark mcp` and `infermark tools benchmark-contracts` on a real warehouse: two runs
 * by the built CLI against the simulator (in its own process), ingested into DuckDB on
 * disk. The MCP server is the built CLI in a child process, spoken to by the SDK's own
 * Client over stdio: initialize, tools/list, each tool against the dashboard API's JSON
 * for the same warehouse, the evidence pointers followed to files on disk, bad inputs
 * answered as tool errors, and the process ending with its input or on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { cli, cliRunFolder, MAIN, ROOT, runArgs, simulatorFixture } from '../cli/testing/harness.js';
import type { EvidencePointer } from '../diagnose/diagnosis.js';
import { type Row } from '../warehouse/sql.js';
import { MCP_TOOLS } from './mcp.js';
import { startDashboard } from './server.js';
import { holdWarehouse } from '../warehouse/testing/lock-holder.js';

let warehousePath: string;
/** Baseline and current: the same points (D(16,6) at concurrency 1 and 2), two runs. */
let runA: string;
let runB: string;
let folderA: string;
let folderB: string;
/** The dashboard API's JSON for the same warehouse, read once before the MCP server starts. */
const apiJson = new Map<string, unknown>();
let client: Client;
let serverStderr = '';
const transportErrors: Error[] = [];

const API_PATHS = (): string[] => [
  '/api/benchmark/contracts',
  '/api/runs',
  `/api/compare?a=${runA}&b=${runB}`,
  `/api/lineage?query=serving_points&column=ttft_ms_p99&run=${runA}&iteration=1`,
];

const childEnv = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));

const { sim, tmp } = simulatorFixture(
  'infermark-mcp-',
  { ttftMs: 8, ttftPerInputTokenMs: 0, itlMs: 2, itlJitterMs: 1, batchSlowdown: 0 },
  {
    setUp: async () => {
      warehousePath = join(tmp(), 'warehouse.duckdb');
      const run = async (out: string): Promise<string> =>
        cliRunFolder(
          runArgs({
            url: sim().url,
            out,
            scenario: 'D(16,6)',
            concurrency: '1,2',
            maxRequests: 5,
            quiet: true,
            warehouse: warehousePath,
          }),
          out,
        );
      folderA = await run(join(tmp(), 'runs-a'));
      folderB = await run(join(tmp(), 'runs-b'));
      [runA, runB] = [basename(folderA), basename(folderB)];
      const dashboard = await startDashboard({
        warehousePath,
        port: 0,
        idleCloseMs: 50,
        log: () => undefined,
      });
      try {
        for (const path of API_PATHS()) {
          const reply = await fetch(`${dashboard.url}${path}`);
          assert.equal(reply.status, 200, path);
          apiJson.set(path, await reply.json());
        }
      } finally {
        await dashboard.close();
      }
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [MAIN, 'mcp', '--warehouse', warehousePath],
        cwd: ROOT,
        env: childEnv(),
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => (serverStderr += chunk.toString('utf8')));
      client = new Client({ name: 'infermark-test', version: '0' });
      client.onerror = (error) => transportErrors.push(error);
      await client.connect(transport);
    },
    tearDown: async () => {
      await client?.close();
    },
  },
);

/** A tool's result: asserted not an error, its text JSON equal to its structured content. */
async function call(name: string, args: Record<string, unknown> = {}): Promise<Row> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
  assert.notEqual(result.isError, true, `${name}: ${text}`);
  assert.deepEqual(JSON.parse(text), result.structuredContent, `${name}: text and structured content differ`);
  return result.structuredContent as Row;
}

/** A tool error's text (asserted an error). */
async function refused(name: string, args: Record<string, unknown>): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  assert.equal(result.isError, true, `${name}(${JSON.stringify(args)}) was answered`);
  return result.content[0]?.type === 'text' ? result.content[0].text : '';
}

/** `value` without its `evidence` fields (what the MCP tools add to the API's rows). */
const withoutEvidence = (rows: Row[]): Row[] => rows.map(({ evidence: _, ...row }) => row);

type Location = { run_id: string; roots: string[]; artifact_manifest_digest: string | null };

/** Asserts a run-relative evidence path is a file under one of its run's roots. */
function assertResolves(pointer: EvidencePointer, locations: Location[]): string {
  const location = locations.find((l) => l.run_id === pointer.run_id);
  assert.ok(location, `no evidence location for run ${pointer.run_id}`);
  const file = location.roots.map((root) => join(root, pointer.path)).find((path) => existsSync(path));
  assert.ok(file, `${pointer.path} of ${pointer.run_id} is under none of ${location.roots.join(', ')}`);
  return file;
}

test('initialize names the server; tools/list gives the five tools with their input schemas', async () => {
  assert.equal(client.getServerVersion()?.name, 'infermark');
  assert.ok(client.getServerCapabilities()?.tools);
  const { tools } = await client.listTools();
  assert.deepEqual(
    tools.map((t) => t.name),
    [...MCP_TOOLS],
  );
  const schema = (name: string): { properties?: Record<string, unknown>; required?: string[] } => {
    const tool = tools.find((t) => t.name === name);
    assert.equal(tool?.inputSchema.type, 'object', name);
    assert.ok(tool?.description && tool.description.length > 40, name);
    assert.equal(tool?.annotations?.readOnlyHint, true, name);
    assert.ok(tool?.outputSchema, name);
    return tool.inputSchema;
  };
  assert.deepEqual(Object.keys(schema('benchmark_contracts').properties ?? {}), []);
  assert.deepEqual(Object.keys(schema('list_runs').properties ?? {}).sort(), [
    'engine',
    'from',
    'gpu',
    'limit',
    'model',
    'offset',
    'scenario',
    'to',
  ]);
  assert.deepEqual(Object.keys(schema('compare').properties ?? {}).sort(), ['a', 'b', 'ga', 'gb']);
  assert.deepEqual(schema('lineage').required?.sort(), ['column', 'query']);
  assert.deepEqual(schema('diagnose').required, ['run']);
});

test('tools benchmark-contracts and the benchmark_contracts tool print the API JSON', async () => {
  const expected = apiJson.get('/api/benchmark/contracts') as Row;
  const result = await cli(['tools', 'benchmark-contracts', '--warehouse', warehousePath]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), expected);
  assert.ok((expected.metrics as Row[]).some((m) => m.name === 'ttft'));
  assert.deepEqual(await call('benchmark_contracts'), expected);
  // A warehouse that is not there: the flag named, exit 2, no stack.
  const missing = await cli(['tools', 'benchmark-contracts', '--warehouse', join(tmp(), 'none.duckdb')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--warehouse/);
  assert.equal(missing.stdout, '');
});

test('list_runs lists both runs as the API does, filtered and paged, with where their files are', async () => {
  const listed = await call('list_runs');
  const api = apiJson.get('/api/runs') as Row;
  assert.deepEqual(listed.runs, api.runs);
  assert.equal(listed.total, 2);
  assert.deepEqual(
    (listed.runs as Row[]).map((r) => r.run_id),
    [runB, runA],
  );
  const locations = listed.evidence_locations as Location[];
  assert.deepEqual(
    locations.map((l) => [l.run_id, l.roots]),
    [
      [runB, [folderB]],
      [runA, [folderA]],
    ],
  );
  assert.match(String(locations[1]?.artifact_manifest_digest), /^sha256:[0-9a-f]{64}$/);
  const ids = async (args: Record<string, unknown>): Promise<unknown[]> =>
    ((await call('list_runs', args)).runs as Row[]).map((r) => r.run_id);
  assert.deepEqual(await ids({ scenario: 'D(16,6)', model: 'm' }), [runB, runA]);
  assert.deepEqual(await ids({ model: 'nobody' }), []);
  assert.deepEqual(await ids({ limit: 1, offset: 1 }), [runA]);
  assert.deepEqual(await ids({ to: '2000-01-01' }), []);
});

test('compare gives the API rows, and each point leads to its iterations, files and lineage', async () => {
  const compared = await call('compare', { a: runA, b: runB.slice(0, 20) });
  const api = apiJson.get(`/api/compare?a=${runA}&b=${runB}`) as Row;
  assert.deepEqual(withoutEvidence(compared.rows as Row[]), api.rows);
  assert.deepEqual([compared.a, compared.b, compared.columns], [api.a, api.b, api.columns]);
  const rows = compared.rows as Row[];
  assert.deepEqual(
    rows.map((r) => r.concurrency),
    [1, 2],
  );
  const locations = compared.evidence_locations as Location[];
  type Side = { run_id: string; iteration: number; files: EvidencePointer[]; lineage: Row }[];
  for (const row of rows) {
    assert.equal(typeof row.ttft_ms_p99_a, 'number');
    assert.equal(typeof row.ttft_ms_p99_b, 'number');
    const evidence = row.evidence as { a: Side; b: Side };
    for (const [side, runId, value] of [
      [evidence.a, runA, row.ttft_ms_p99_a],
      [evidence.b, runB, row.ttft_ms_p99_b],
    ] as const) {
      assert.equal(side.length, 1);
      const point = side[0] as Side[number];
      assert.equal(point.run_id, runId);
      assert.deepEqual(
        point.files.map((f) => f.path),
        ['requests.jsonl', 'summary.json', 'telemetry/server/index.json'].map(
          (file) => `iterations/${String(point.iteration).padStart(3, '0')}/${file}`,
        ),
      );
      // The request records of this point: one line per request the run sent (5).
      const records = await readFile(assertResolves(point.files[0] as EvidencePointer, locations), 'utf8');
      assert.equal(records.trim().split('\n').length, 5);
      for (const file of point.files) assertResolves(file, locations);
      // The lineage arguments walk this very number back to the same iteration's files.
      const walked = await call('lineage', { ...point.lineage, column: 'ttft_ms_p99' });
      assert.equal((walked.number as Row).value, value);
      assert.equal((walked.run as Row).iteration, point.iteration);
    }
  }
});

test('lineage answers the API chain: query, run, digests, and the raw files checked', async () => {
  const args = { query: 'serving_points', column: 'ttft_ms_p99', run: runA, iteration: 1 };
  const report = await call('lineage', args);
  assert.deepEqual(report, apiJson.get(API_PATHS()[3] as string));
  assert.equal(report.publication_safe, true);
  const evidence = report.evidence as {
    uri: string;
    artifacts: { path: string; state: string; source: boolean }[];
  }[];
  assert.equal(evidence[0]?.uri, folderA);
  const sources = evidence[0]?.artifacts.filter((a) => a.source).map((a) => a.path) ?? [];
  assert.ok(sources.includes('iterations/001/requests.jsonl'), sources.join(', '));
  assert.ok(evidence[0]?.artifacts.every((a) => a.state === 'ok'));
});

test('diagnose returns a Diagnosis of the pair, every evidence pointer a file of the run', async () => {
  const diagnosis = await call('diagnose', { run: runB.slice(0, 16), baseline: runA });
  assert.equal(diagnosis.schema_version, 1);
  assert.equal(diagnosis.run_id, runB);
  assert.equal(diagnosis.baseline_run_id, runA);
  for (const key of ['points', 'findings', 'notes']) assert.ok(Array.isArray(diagnosis[key]), key);
  const locations = diagnosis.evidence_locations as Location[];
  assert.deepEqual(
    locations.map((l) => [l.run_id, l.roots]),
    [
      [runB, [folderB]],
      [runA, [folderA]],
    ],
  );
  // Whatever the diagnosis finds, what it cites is there to be opened.
  const pointers: EvidencePointer[] = [];
  for (const point of diagnosis.points as Row[]) {
    pointers.push(...(point.evidence as EvidencePointer[]));
    for (const move of point.telemetry as Row[]) pointers.push(...(move.evidence as EvidencePointer[]));
    for (const outlier of point.outliers as Row[]) pointers.push(outlier.evidence as EvidencePointer);
  }
  for (const finding of diagnosis.findings as Row[])
    pointers.push(...(finding.evidence as EvidencePointer[]));
  for (const pointer of pointers) assertResolves(pointer, locations);
  const alone = await call('diagnose', { run: runB });
  assert.equal(alone.run_id, runB);
  // Run groups (repeats of one job) are named by their run_group_id.
  const runs = (await call('list_runs')).runs as Row[];
  const groupOf = (id: string): string => String(runs.find((r) => r.run_id === id)?.run_group_id);
  const byGroup = await call('diagnose', { run: groupOf(runB), baseline: groupOf(runA) });
  assert.deepEqual(
    (byGroup.evidence_locations as Location[]).map((l) => l.run_id),
    [runB, runA],
  );
});

test('bad inputs and unknown runs are tool errors with the reason; the server keeps answering', async () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['list_runs', { limit: 0 }, /limit/],
    ['list_runs', { limit: 'ten' }, /limit/],
    ['list_runs', { model: 'x; DROP TABLE benchmark_run_fact' }, /E_BAD_FILTER: model/],
    ['list_runs', { from: '2024-02-30' }, /E_BAD_DATE/],
    ['list_runs', { colour: 'red' }, /colour/],
    ['compare', { a: runA }, /E_BAD_PARAM: b is required/],
    ['compare', { a: runA, b: 'zzzz0000' }, /E_NO_RUN: no run zzzz0000/],
    ['compare', { a: runA, ga: 'g' }, /E_BAD_PARAM/],
    ['compare', { ga: 'nogroup', gb: 'nogroup' }, /E_NO_GROUP/],
    ['lineage', { query: 'nope', column: 'ttft_ms_p99' }, /E_NO_QUERY/],
    ['lineage', { query: 'serving_points', column: 'nope' }, /E_NO_COLUMN/],
    ['lineage', { query: 'serving_points', column: 'ttft_ms_p99', run: runA, iteration: 99 }, /E_NO_ROW/],
    ['diagnose', {}, /run/],
    ['diagnose', { run: 'zzzz0000' }, /E_NO_RUN: no run zzzz0000/],
    ['diagnose', { run: runB, baseline: 'a' }, /E_BAD_RUN_ID: baseline/],
    ['benchmark_contracts', { extra: 1 }, /extra/],
  ];
  for (const [name, args, reason] of cases) {
    const text = await refused(name, args);
    assert.match(text, reason, `${name}(${JSON.stringify(args)}): ${text}`);
    assert.doesNotMatch(text, /^\s+at /m, 'a stack trace');
  }
  assert.equal(((await call('list_runs')).runs as Row[]).length, 2);
  assert.deepEqual(transportErrors, [], 'stdout carried something other than the protocol');
  assert.doesNotMatch(serverStderr, /E_INTERNAL|Error:/);
});

/** The built CLI's `mcp` as a raw child: what a client's config starts. */
function rawServer(): {
  child: ReturnType<typeof spawn>;
  send: (message: object) => void;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, [MAIN, 'mcp', '--warehouse', warehousePath], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, send: (message) => child.stdin.write(`${JSON.stringify(message)}\n`), exited };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

test('calls piped in and the input ended: each is answered, stdout holds only JSON-RPC, exit 0', async () => {
  const server = rawServer();
  server.send(INITIALIZE);
  server.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_runs', arguments: {} } });
  server.child.stdin?.write('not json\n');
  server.send({
    jsonrpc: '2.0',
    id: 3,
    method: 'tools/call',
    params: { name: 'compare', arguments: { a: runA, b: runB } },
  });
  server.child.stdin?.end();
  const { code, stdout, stderr } = await server.exited;
  assert.equal(code, 0, stderr);
  const messages = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { jsonrpc: string; id: number; result: { structuredContent: Row } });
  assert.ok(messages.every((m) => m.jsonrpc === '2.0'));
  assert.deepEqual(
    messages.map((m) => m.id),
    [1, 2, 3],
  );
  assert.equal(messages[1]?.result.structuredContent.total, 2);
  assert.equal((messages[2]?.result.structuredContent.rows as Row[]).length, 2);
  assert.match(stderr, /stopped \(its input (ended|closed)\)/);
});

test('SIGTERM stops the server: it says why on stderr and exits 0', async () => {
  const server = rawServer();
  server.send(INITIALIZE);
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, 15_000);
    server.child.stdout?.on('data', () => {
      clearTimeout(deadline);
      resolve();
    });
  });
  server.child.kill('SIGTERM');
  const { code, stderr } = await server.exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /stopped \(SIGTERM\)/);
});

test('a warehouse that is not there: mcp says so on stderr, exit 2, nothing on stdout', async () => {
  const result = await cli(['mcp', '--warehouse', join(tmp(), 'none.duckdb')]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /no warehouse at/);
  assert.equal(result.stdout, '');
});

test("docs/mcp.md's client configuration starts a server that lists the tools", async () => {
  const page = await readFile(join(ROOT, 'docs', 'mcp.md'), 'utf8');
  const blocks = [...page.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] as string) as Row);
  assert.equal(blocks.length, 2);
  for (const block of blocks) {
    const servers = (block.mcpServers ?? block.servers) as Record<
      string,
      { command: string; args: string[] }
    >;
    const { command, args } = servers.infermark as { command: string; args: string[] };
    assert.equal(command, 'infermark');
    // The documented arguments, with this test's warehouse in place of the example's.
    const given = args.map((arg) => (arg.endsWith('.duckdb') ? warehousePath : arg));
    const documented = new Client({ name: 'docs', version: '0' });
    await documented.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [MAIN, ...given],
        cwd: ROOT,
        env: childEnv(),
        stderr: 'ignore',
      }),
    );
    try {
      assert.deepEqual(
        (await documented.listTools()).tools.map((t) => t.name),
        [...MCP_TOOLS],
      );
    } finally {
      await documented.close();
    }
  }
});

test('an open session never blocks an ingest: while one writes, calls answer busy, then work again', async () => {
  await call('list_runs');
  // The session above has the warehouse open read-only; it lets go when idle (2 s).
  const started = performance.now();
  const writer = await holdWarehouse(warehousePath);
  const waited_ms = performance.now() - started;
  assert.ok(waited_ms < 15_000, `the writer waited ${waited_ms} ms`);
  // A server started meanwhile starts anyway: the warehouse is there, only busy.
  const late = new Client({ name: 'late', version: '0' });
  let lateStderr = '';
  try {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MAIN, 'mcp', '--warehouse', warehousePath],
      cwd: ROOT,
      env: childEnv(),
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => (lateStderr += chunk.toString('utf8')));
    await late.connect(transport);
    for (const session of [client, late]) {
      const result = (await session.callTool({ name: 'list_runs', arguments: {} })) as CallToolResult;
      assert.equal(result.isError, true);
      assert.match(result.content[0]?.type === 'text' ? result.content[0].text : '', /^E_WAREHOUSE_BUSY: /);
    }
  } finally {
    await writer.release();
  }
  for (const session of [client, late]) {
    const result = (await session.callTool({ name: 'list_runs', arguments: {} })) as CallToolResult;
    assert.equal((result.structuredContent as Row).total, 2);
  }
  await late.close();
  assert.match(lateStderr, /being written/);
});
