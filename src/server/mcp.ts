/**
 * The warehouse as a Model Context Protocol server over stdio (the official SDK), so an
 * assistant can answer "what changed and what proves it": benchmark_contracts, list_runs,
 * compare, lineage and diagnose. Each tool takes the dashboard's inputs through the
 * dashboard's own checks (api.ts), so a value the REST API refuses is refused here too,
 * and answers the REST API's JSON, as text and as structuredContent, with the evidence
 * pointers beside the numbers (where each run's raw files are, the iteration files of
 * each compared point, the lineage chain, the diagnosis' evidence). A bad input or an
 * unknown run is a tool error (isError) with the reason, never a crash. The warehouse is
 * held read-only through WarehouseAccess, so an assistant left open never blocks an
 * ingest. stdout carries the protocol and nothing else; the few log lines go to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { InfermarkError } from '../base/errors.js';
import { scrubText } from '../base/redact.js';
import { diagnose } from '../diagnose/diagnose.js';
import { infermarkVersion } from '../evidence/environment.js';
import { runIdsOf } from '../gate/warehouse-group.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import {
  ApiError,
  comparePair,
  contracts,
  lineage,
  listRunPage,
  MAX_PAGE,
  parseCompare,
  parseLineage,
  parseRunFilters,
  parseRunId,
} from './api.js';
import { MAX_EVIDENCE_RUNS, pointEvidence, pointIndex, runLocations } from './mcp-evidence.js';
import { WarehouseAccess } from './warehouse-access.js';

/** The tools, in the order `tools/list` gives them. */
export const MCP_TOOLS = ['benchmark_contracts', 'list_runs', 'compare', 'lineage', 'diagnose'] as const;

/** A tool call's arguments are a few short strings: a JSON-RPC line longer than this is refused. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

const runRef = z
  .string()
  .max(80)
  .describe('a run_id, or a unique prefix of at least 4 characters (as list_runs gives them)');
const filter = (what: string): z.ZodOptional<z.ZodString> =>
  z.string().max(200).optional().describe(`only runs ${what} (exact match)`);
const when = (what: string): z.ZodOptional<z.ZodString> =>
  z.string().max(40).optional().describe(`only runs started ${what}: YYYY-MM-DD or an ISO 8601 time`);

const LIST_RUNS_INPUT = z.strictObject({
  model: filter('of this model'),
  engine: filter('served by this engine (vLLM, SGLang, ...)'),
  gpu: filter('on this GPU type (H100, ...)'),
  scenario: filter('with this traffic scenario (D(100,50), ...)'),
  from: when('at or after'),
  to: when('at or before (a bare day: the whole day)'),
  limit: z.number().int().min(1).max(MAX_PAGE).optional().describe('page size (default 50)'),
  offset: z.number().int().min(0).max(100_000_000).optional().describe('runs to skip (default 0)'),
});

const COMPARE_INPUT = z.strictObject({
  a: runRef.optional().describe('baseline run (with b); run_id or prefix'),
  b: runRef.optional().describe('current run (with a); run_id or prefix'),
  ga: z.string().max(80).optional().describe('baseline run group (with gb): run_group_id'),
  gb: z.string().max(80).optional().describe('current run group (with ga): run_group_id'),
});

const LINEAGE_INPUT = z.strictObject({
  query: z.string().max(64).describe('a named query (benchmark_contracts lists them): serving_points, ...'),
  column: z
    .string()
    .max(64)
    .describe('a column of that query: ttft_ms_p99, output_throughput_tokens_per_s, ...'),
  run: runRef.optional().describe('the first row of this run (run_id or prefix)'),
  iteration: z
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .optional()
    .describe('with run: the row of this iteration'),
  row: z.number().int().min(0).max(100_000_000).optional().describe('or: this row of the query (0-based)'),
});

const DIAGNOSE_INPUT = z.strictObject({
  run: runRef.describe('the run to explain: run_id, prefix, or a run_group_id (its repeats pooled)'),
  baseline: runRef
    .optional()
    .describe('the run it is judged against: run_id, prefix, or a run_group_id (its repeats pooled)'),
});

/**
 * What diagnose is given for an id: a run (or a prefix of one) by its full run_id, a run
 * group by its id; and the runs it names, for their evidence locations. An id that names
 * nothing is an error here (E_NO_RUN), before any diagnosis starts.
 */
async function diagnosable(warehouse: Warehouse, id: string): Promise<{ id: string; runs: string[] }> {
  const runs = await runIdsOf(warehouse, id);
  const single = runs.length === 1 && (runs[0] as string).startsWith(id);
  return { id: single ? (runs[0] as string) : id, runs: runs.slice(0, MAX_EVIDENCE_RUNS) };
}

/** Where each run's raw files are: every run-relative evidence path resolves under one of `roots`. */
const LOCATIONS = z
  .array(
    z.looseObject({
      run_id: z.string(),
      roots: z.array(z.string()),
      artifact_manifest_digest: z.string().nullable(),
    }),
  )
  .describe("where each run's raw evidence is: an evidence path is relative to each of its roots");
const ROWS = z.array(z.looseObject({}));

const OUTPUT = {
  benchmark_contracts: z.looseObject({ metrics: ROWS, tables: ROWS, named_queries: ROWS }),
  list_runs: z.looseObject({
    runs: ROWS,
    total: z.number(),
    limit: z.number(),
    offset: z.number(),
    evidence_locations: LOCATIONS,
  }),
  compare: z.looseObject({
    a: z.looseObject({}),
    b: z.looseObject({}),
    columns: z.array(z.string()),
    rows: ROWS,
    evidence_locations: LOCATIONS,
  }),
  lineage: z.looseObject({
    number: z.looseObject({}),
    query: z.looseObject({}),
    run: z.looseObject({}),
    evidence: ROWS,
    publication_safe: z.boolean(),
  }),
  diagnose: z.looseObject({
    schema_version: z.number(),
    run_id: z.string(),
    baseline_run_id: z.string().nullable(),
    points: ROWS,
    findings: ROWS,
    notes: z.array(z.string()),
    evidence_locations: LOCATIONS,
  }),
};

/** Tool arguments as the REST API's query string, so they meet its very checks. */
function asParams(args: Record<string, string | number | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(args)) if (value !== undefined) params.set(key, String(value));
  return params;
}

/** The JSON as text (for clients that read text) and as structured content (the same bytes, parsed). */
function answer(result: object): CallToolResult {
  const text = JSON.stringify(result);
  return {
    content: [{ type: 'text', text }],
    structuredContent: JSON.parse(text) as Record<string, unknown>,
  };
}

/** A tool error: what the caller did wrong, or that something broke (the detail only on stderr). */
function failure(error: unknown, tool: string, log: (line: string) => void): CallToolResult {
  let text: string;
  if (error instanceof ApiError || error instanceof InfermarkError) {
    text = `${error.code}: ${error.message}`;
  } else {
    log(
      `infermark mcp: ${tool}: ${scrubText(error instanceof Error ? (error.stack ?? error.message) : String(error))}`,
    );
    text = `E_INTERNAL: ${tool} failed (the server's stderr has the detail)`;
  }
  return { content: [{ type: 'text', text: scrubText(text) }], isError: true };
}

/** The MCP server over one warehouse, its five tools registered. */
export function createMcpServer(
  access: WarehouseAccess,
  log: (line: string) => void,
  inFlight: Set<Promise<unknown>> = new Set(),
): McpServer {
  const server = new McpServer(
    { name: 'infermark', version: infermarkVersion() },
    { capabilities: { tools: {} }, maxToolInputElements: 64 },
  );
  const readOnly = { readOnlyHint: true, idempotentHint: true, destructiveHint: false } as const;
  /** Runs a tool's work, turning every error into a tool error; counted until answered. */
  const call = async (tool: string, work: () => Promise<object>): Promise<CallToolResult> => {
    const done = work().then(answer, (error: unknown) => failure(error, tool, log));
    inFlight.add(done);
    try {
      return await done;
    } finally {
      inFlight.delete(done);
    }
  };

  server.registerTool(
    'benchmark_contracts',
    {
      title: 'Benchmark contracts',
      description:
        'What every number in the warehouse means: the metric registry (name, unit, direction, description), ' +
        "the canonical tables' columns and types, and the named queries with their SQL and query_spec_digest. " +
        'The same JSON as `infermark tools benchmark-contracts` and GET /api/benchmark/contracts.',
      inputSchema: z.strictObject({}),
      outputSchema: OUTPUT.benchmark_contracts,
      annotations: { ...readOnly, openWorldHint: false },
    },
    () => call('benchmark_contracts', () => access.use((w) => contracts(w))),
  );

  server.registerTool(
    'list_runs',
    {
      title: 'List runs',
      description:
        "The warehouse's runs, newest first, filtered and paged as the dashboard's run list: model, engine, " +
        'GPU, scenario and dates; each with its run_group_id (repeats of one job share it). ' +
        "evidence_locations says where each listed run's raw files (run folder, uploads) are.",
      inputSchema: LIST_RUNS_INPUT,
      outputSchema: OUTPUT.list_runs,
      annotations: { ...readOnly, openWorldHint: false },
    },
    (args) =>
      call('list_runs', async () => {
        const filters = parseRunFilters(asParams(args));
        return access.use(async (w) => {
          const page = await listRunPage(w, filters);
          const ids = page.runs.map((r) => String(r.run_id));
          return { ...page, evidence_locations: await runLocations(w, ids) };
        });
      }),
  );

  server.registerTool(
    'compare',
    {
      title: 'Compare two runs or run groups',
      description:
        'Two runs (a, b) or two run groups (ga, gb) point by point (scenario x concurrency or rate): each ' +
        "metric in A and B and B's change relative to A in percent (*_change_pct; groups: the mean over " +
        "their runs). Each row's evidence names the iterations that measured it in A and in B, their raw " +
        'files, and the lineage arguments that trace its numbers; evidence_locations says where the files are.',
      inputSchema: COMPARE_INPUT,
      outputSchema: OUTPUT.compare,
      annotations: { ...readOnly, openWorldHint: false },
    },
    (args) =>
      call('compare', async () => {
        const pair = parseCompare(asParams(args));
        return access.use(async (w) => {
          const comparison = await comparePair(w, pair);
          const runsOf = (side: Record<string, unknown>): string[] =>
            (pair.kind === 'runs' ? [side.run_id] : Array.isArray(side.run_ids) ? side.run_ids : [])
              .map(String)
              .slice(0, MAX_EVIDENCE_RUNS);
          const [runsA, runsB] = [runsOf(comparison.a), runsOf(comparison.b)];
          const index = await pointIndex(w, [...runsA, ...runsB]);
          const rows = comparison.rows.map((row) => ({
            ...row,
            evidence: {
              a: pointEvidence(index, runsA, row),
              b: pointEvidence(index, runsB, row),
            },
          }));
          return { ...comparison, rows, evidence_locations: await runLocations(w, [...runsA, ...runsB]) };
        });
      }),
  );

  server.registerTool(
    'lineage',
    {
      title: 'Lineage of a number',
      description:
        'Walks one number of a named query back to raw evidence: the query (SQL, query_spec_digest), the ' +
        'run (workload_spec_digest, artifact_manifest_digest, iteration), then each place the raw files are ' +
        'kept, every artifact checked against its sha256 (source: true for the files the number comes from). ' +
        'publication_safe is false when the chain is broken. As GET /api/lineage.',
      inputSchema: LINEAGE_INPUT,
      outputSchema: OUTPUT.lineage,
      // Reads the run's files where they are kept, a store included.
      annotations: { ...readOnly, openWorldHint: true },
    },
    (args) =>
      call('lineage', async () => {
        const request = parseLineage(asParams(args));
        return access.use((w) => lineage(w, request));
      }),
  );

  server.registerTool(
    'diagnose',
    {
      title: 'Diagnose a run',
      description:
        'Why a run is slower (or faster) than a baseline: per workload point, which percentiles moved and ' +
        'whether only the tail did, TTFT and E2E decomposed (client queue, server queue, prefill, decode), ' +
        'the telemetry that moved with it by node / GPU / pod, the outlier requests, then the playbooks ' +
        'that fired and what to check next. Every claim carries evidence pointers (run_id, a run-relative ' +
        'path, a line of requests.jsonl); evidence_locations says where those files are.',
      inputSchema: DIAGNOSE_INPUT,
      outputSchema: OUTPUT.diagnose,
      annotations: { ...readOnly, openWorldHint: false },
    },
    (args) =>
      call('diagnose', async () => {
        const run = parseRunId('run', args.run);
        const baseline = args.baseline === undefined ? undefined : parseRunId('baseline', args.baseline);
        return access.use(async (w) => {
          const current = await diagnosable(w, run);
          const base = baseline === undefined ? undefined : await diagnosable(w, baseline);
          const diagnosis = await diagnose(w, {
            runId: current.id,
            ...(base === undefined ? {} : { baselineRunId: base.id }),
          });
          const ids = [...current.runs, ...(base?.runs ?? [])];
          return { ...diagnosis, evidence_locations: await runLocations(w, ids) };
        });
      }),
  );
  return server;
}

export interface McpOptions {
  warehousePath: string;
  /** Where the few log lines go (default: stderr; never stdout, which is the protocol's). */
  log?: (line: string) => void;
  /** How long the warehouse stays open after the last call (ms). */
  idleCloseMs?: number;
  /** Resolves with why the server should stop (`SIGTERM`); the session also ends with its input. */
  stop?: Promise<string>;
  input?: Readable;
  output?: Writable;
}

/** Serves MCP over stdio until the input ends, the transport closes or `stop` resolves. */
export async function serveMcp(options: McpOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const access = new WarehouseAccess(options.warehousePath, options.idleCloseMs);
  // Fail at start, not at the first call, when the warehouse is not there; a run ingesting
  // at that moment is no reason to fail (each call then answers busy until it is done).
  await access
    .use(async () => undefined)
    .catch((error: unknown) => {
      if (!(error instanceof InfermarkError && error.code === 'E_WAREHOUSE_BUSY')) throw error;
      log(`infermark mcp: ${error.message}`);
    });
  const inFlight = new Set<Promise<unknown>>();
  const server = createMcpServer(access, log, inFlight);
  const input = options.input ?? process.stdin;
  const transport = new StdioServerTransport(input, options.output ?? process.stdout, {
    maxBufferSize: MAX_MESSAGE_BYTES,
  });
  const ended = new Promise<string>((resolve) => {
    input.once('end', () => resolve('its input ended'));
    input.once('close', () => resolve('its input closed'));
    server.server.onclose = () => resolve('the transport closed');
    void options.stop?.then(resolve);
  });
  server.server.onerror = (error) => log(`infermark mcp: ${scrubText(error.message)}`);
  await server.connect(transport);
  log(`infermark mcp: serving ${options.warehousePath} over stdio`);
  const why = await ended;
  // Calls sent just before the input ended are still answered: `echo … | infermark mcp` works.
  await Promise.allSettled([...inFlight]);
  await new Promise((resolve) => setImmediate(resolve));
  await server.close();
  await access.close();
  log(`infermark mcp: stopped (${why})`);
}
