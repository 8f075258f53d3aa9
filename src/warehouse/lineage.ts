/**
 * Lineage: any number of a named query walked back to raw evidence, in the
 * order performance-warehouse.md gives: the query (its SQL and
 * query_spec_digest), the run (run_id, workload_spec_digest,
 * artifact_manifest_digest), then the raw artifacts at each place the run's
 * evidence is kept, each checked to still exist and still have its digest.
 * A number whose chain breaks anywhere is reported as not publication-safe.
 */
import { join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { digestFile } from '../base/digest.js';
import { isSafeArtifactPath } from '../evidence/manifest.js';
import { openLocation } from '../storage/open-location.js';
import { QUICK_RETRY, withRetry } from '../storage/retry-policy.js';
import { namedQuery, type NamedQuery } from './queries.js';
import type { Warehouse } from './warehouse.js';
import type { Row } from './sql.js';

export interface ArtifactCheck {
  path: string;
  sha256: string;
  /** `ok`, `missing`, `changed`, or `unchecked` (a store that keeps no digest). */
  state: 'ok' | 'missing' | 'changed' | 'unchecked';
  /** The artifact the number is computed from (the row's iteration), or one of the run's others. */
  source: boolean;
}

export interface EvidenceLocation {
  uri: string;
  reachable: boolean;
  error: string | null;
  artifacts: ArtifactCheck[];
}

export interface LineageReport {
  number: { column: string; value: unknown; row: number };
  query: NamedQuery;
  run: {
    run_id: string;
    benchmark_case_id: string | null;
    workload_spec_digest: string | null;
    artifact_manifest_digest: string | null;
    iteration: number | null;
  };
  evidence: EvidenceLocation[];
  /** True when at least one location holds every artifact unchanged. */
  publication_safe: boolean;
}

export interface LineageRequest {
  query: string;
  /** Which row of the query's result (0-based), or the first row matching `runId` (and `iteration`). */
  row?: number;
  runId?: string;
  iteration?: number;
  column: string;
}

export async function traceLineage(warehouse: Warehouse, request: LineageRequest): Promise<LineageReport> {
  const query = await namedQuery(warehouse, request.query);
  const result = await warehouse.json(query.sql);
  if (!result.columns.includes('run_id')) {
    throw new InfermarkError(
      'E_NO_LINEAGE',
      `named query ${query.name} returns no run_id column: its numbers cannot be traced`,
      ExitCode.badInput,
    );
  }
  if (!result.columns.includes(request.column)) {
    throw new InfermarkError(
      'E_NO_COLUMN',
      `named query ${query.name} has no column "${request.column}" (columns: ${result.columns.join(', ')})`,
      ExitCode.badInput,
    );
  }
  const index = pickRow(result.rows, request);
  const row = result.rows[index] as Row;
  const runId = String(row.run_id);
  const iteration = typeof row.iteration === 'number' ? row.iteration : null;
  const fact = (
    await warehouse.all(
      'SELECT benchmark_case_id, workload_spec_digest, artifact_manifest_digest FROM benchmark_run_fact WHERE run_id = $1',
      [runId],
    )
  )[0];
  const artifacts = await warehouse.all(
    'SELECT path, sha256 FROM run_artifact WHERE run_id = $1 ORDER BY path',
    [runId],
  );
  const lineage = (
    await warehouse.all('SELECT raw_uris, result_folder FROM artifact_lineage_dim WHERE run_id = $1', [runId])
  )[0];
  const uris = lineage?.raw_uris;
  const runPrefix = [lineage?.result_folder, runId].filter(Boolean).join('/');
  const sourcePrefix = iteration === null ? null : `iterations/${String(iteration).padStart(3, '0')}/`;
  const expected = artifacts.map((a) => ({
    path: String(a.path),
    sha256: String(a.sha256),
    source: sourcePrefix === null || isSourceOf(String(a.path), sourcePrefix),
  }));
  const evidence: EvidenceLocation[] = [];
  for (const uri of (Array.isArray(uris) ? uris : []).map(String))
    evidence.push(await checkLocation(uri, runPrefix, expected));
  return {
    number: { column: request.column, value: row[request.column], row: index },
    query,
    run: {
      run_id: runId,
      benchmark_case_id: (fact?.benchmark_case_id as string | null) ?? null,
      workload_spec_digest: (fact?.workload_spec_digest as string | null) ?? null,
      artifact_manifest_digest: (fact?.artifact_manifest_digest as string | null) ?? null,
      iteration,
    },
    evidence,
    publication_safe:
      expected.length > 0 && evidence.some((e) => e.reachable && e.artifacts.every((a) => a.state === 'ok')),
  };
}

/**
 * Whether an artifact is one an iteration's numbers are computed from: its own folder and
 * run.json; in a split run also each shard's folder of that iteration and its run.json,
 * which the merged records point into (`shard_index`, `shard_line`).
 */
function isSourceOf(path: string, iterationPrefix: string): boolean {
  if (path === 'run.json' || path.startsWith(iterationPrefix)) return true;
  const shard = /^shards\/\d{3}\/(.*)$/.exec(path);
  return shard !== null && (shard[1] === 'run.json' || (shard[1] as string).startsWith(iterationPrefix));
}

function pickRow(rows: Row[], request: LineageRequest): number {
  if (request.runId !== undefined) {
    const index = rows.findIndex(
      (r) =>
        String(r.run_id).startsWith(request.runId as string) &&
        (request.iteration === undefined || r.iteration === request.iteration),
    );
    if (index < 0)
      throw new InfermarkError(
        'E_NO_ROW',
        `no row of the query has run ${request.runId}${request.iteration !== undefined ? ` and iteration ${request.iteration}` : ''}`,
        ExitCode.badInput,
      );
    return index;
  }
  const index = request.row ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= rows.length) {
    throw new InfermarkError(
      'E_NO_ROW',
      `row ${index}: the query returns ${rows.length} rows (0-based)`,
      ExitCode.badInput,
    );
  }
  return index;
}

/** Checks each artifact at one place the evidence is kept: a local run folder, or a store URI. */
async function checkLocation(
  uri: string,
  runPrefix: string,
  expected: { path: string; sha256: string; source: boolean }[],
): Promise<EvidenceLocation> {
  const location: EvidenceLocation = { uri, reachable: true, error: null, artifacts: [] };
  const local = uri.startsWith('/');
  let store: Awaited<ReturnType<typeof openLocation>> | null = null;
  try {
    if (!local) store = await openLocation({ uri, source: { path: 'artifact_lineage_dim.raw_uris' } });
    for (const artifact of expected) {
      if (!isSafeArtifactPath(artifact.path)) {
        location.artifacts.push({ ...artifact, state: 'changed' });
        continue;
      }
      let state: ArtifactCheck['state'];
      if (local) {
        const digests = await digestFile(join(uri, artifact.path)).catch(() => null);
        state = digests === null ? 'missing' : digests.sha256 === artifact.sha256 ? 'ok' : 'changed';
      } else {
        const key = `${runPrefix}/${artifact.path}`;
        const opened = store as NonNullable<typeof store>;
        const head = await withRetry(key, QUICK_RETRY, {}, () => opened.head(key));
        state =
          head === null
            ? 'missing'
            : head.sha256 === null
              ? 'unchecked'
              : head.sha256 === artifact.sha256
                ? 'ok'
                : 'changed';
      }
      location.artifacts.push({ ...artifact, state });
    }
  } catch (error) {
    location.reachable = false;
    location.error = (error as Error).message;
  } finally {
    await store?.close();
  }
  return location;
}

/** The chain in words, top (the number) to bottom (the bytes). */
export function renderLineage(report: LineageReport): string {
  const lines: string[] = [];
  const { number, query, run } = report;
  lines.push(
    `number    ${number.column} = ${JSON.stringify(number.value)}  (row ${number.row} of ${query.name})`,
  );
  lines.push(`query     ${query.name}  query_spec_digest ${query.query_spec_digest}`);
  lines.push(`run       ${run.run_id}${run.iteration !== null ? `  iteration ${run.iteration}` : ''}`);
  lines.push(`          benchmark_case_id        ${run.benchmark_case_id ?? '-'}`);
  lines.push(`          workload_spec_digest     ${run.workload_spec_digest ?? '-'}`);
  lines.push(`          artifact_manifest_digest ${run.artifact_manifest_digest ?? '-'}`);
  if (report.evidence.length === 0) lines.push('evidence  none recorded');
  for (const location of report.evidence) {
    if (!location.reachable) {
      lines.push(`evidence  ${location.uri}: UNREACHABLE (${location.error ?? 'error'})`);
      continue;
    }
    const bad = location.artifacts.filter((a) => a.state !== 'ok');
    lines.push(
      `evidence  ${location.uri}: ${bad.length === 0 ? 'every artifact present and unchanged' : `${bad.length} of ${location.artifacts.length} artifacts NOT OK`}`,
    );
    for (const artifact of location.artifacts.filter((a) => a.source || a.state !== 'ok')) {
      lines.push(`          ${artifact.state.toUpperCase().padEnd(9)} ${artifact.path}  ${artifact.sha256}`);
    }
  }
  lines.push(
    report.publication_safe
      ? 'publication-safe: yes'
      : 'publication-safe: NO (the chain to raw evidence is broken)',
  );
  return `${lines.join('\n')}\n`;
}
