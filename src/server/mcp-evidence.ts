/**
 * The evidence pointers the MCP tools return beside their numbers: where each run's raw
 * files are kept (artifact_lineage_dim: the run folder, and each store it was uploaded
 * to), and for a workload point the files of the iteration it was measured in, as the
 * Diagnosis' EvidencePointer (run-relative path) plus the lineage tool's arguments that
 * walk its numbers back to them. Only files the run's manifest lists (run_artifact) are
 * pointed at, so every pointer names a file that was sealed.
 */
import type { EvidencePointer } from '../diagnose/diagnosis.js';
import type { Row, SqlHandle } from '../warehouse/sql.js';

/** Where one run's raw evidence is: an EvidencePointer's `path` is relative to each root. */
export interface RunLocation {
  run_id: string;
  /** The run folder (a local path) and, for each upload, `<uri>/[result_folder/]<run_id>`. */
  roots: string[];
  artifact_manifest_digest: string | null;
}

/** Evidence of one point in one run: its iterations' files, and how to trace a number of it. */
export interface PointEvidence {
  run_id: string;
  iteration: number;
  files: EvidencePointer[];
  /** Arguments of the `lineage` tool for this point (add a `column`: `ttft_ms_p99`). */
  lineage: { query: 'serving_points'; run: string; iteration: number };
}

/** The iteration files worth opening first, in that order; the rest are in the manifest. */
const ITERATION_FILES = ['requests.jsonl', 'summary.json'] as const;
const LABEL: Record<(typeof ITERATION_FILES)[number], string> = {
  'requests.jsonl': 'request records',
  'summary.json': 'iteration summary',
};
/** Each telemetry target's scrape index (docs/telemetry.md), or the layout before targets. */
const SCRAPE_INDEX = /^telemetry\/[a-z0-9-]+\/index\.json$|^metrics\/index\.json$/;

/** Runs a group's evidence is given for, at most: the rest are named by run_id only. */
export const MAX_EVIDENCE_RUNS = 20;

export async function runLocations(warehouse: SqlHandle, runIds: string[]): Promise<RunLocation[]> {
  const out: RunLocation[] = [];
  for (const runId of [...new Set(runIds)].slice(0, MAX_EVIDENCE_RUNS)) {
    const { rows } = await warehouse.json(
      'SELECT raw_uris, result_folder, artifact_manifest_digest FROM artifact_lineage_dim WHERE run_id = $1',
      [runId],
    );
    const row = rows[0];
    const uris = Array.isArray(row?.raw_uris) ? row.raw_uris.map(String) : [];
    const prefix = [row?.result_folder, runId].filter((part) => typeof part === 'string' && part !== '');
    out.push({
      run_id: runId,
      // A local run folder is the root itself; in a store the run is under its prefix (lineage.ts).
      roots: uris.map((uri) =>
        uri.startsWith('/') ? uri : `${uri.replace(/\/+$/, '')}/${prefix.join('/')}`,
      ),
      artifact_manifest_digest:
        typeof row?.artifact_manifest_digest === 'string' ? row.artifact_manifest_digest : null,
    });
  }
  return out;
}

/** The same workload point: scenario, mode, and concurrency or rate (a compare row names it so). */
const same = (a: Row, b: Row): boolean =>
  a.scenario === b.scenario &&
  a.mode === b.mode &&
  (a.concurrency ?? null) === (b.concurrency ?? null) &&
  (a.rate_rps ?? null) === (b.rate_rps ?? null);

/** Per run, its points (one row per iteration) and the sealed iteration files among ITERATION_FILES. */
export async function pointIndex(
  warehouse: SqlHandle,
  runIds: string[],
): Promise<Map<string, { points: Row[]; files: Set<string> }>> {
  const index = new Map<string, { points: Row[]; files: Set<string> }>();
  for (const runId of [...new Set(runIds)].slice(0, MAX_EVIDENCE_RUNS)) {
    const points = await warehouse.json(
      'SELECT iteration, scenario, mode, concurrency, rate_rps FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration',
      [runId],
    );
    const files = await warehouse.json(
      "SELECT path FROM run_artifact WHERE run_id = $1 AND starts_with(path, 'iterations/')",
      [runId],
    );
    index.set(runId, { points: points.rows, files: new Set(files.rows.map((r) => String(r.path))) });
  }
  return index;
}

/** The evidence of `point` in each of `runIds` (the iterations that measured it). */
export function pointEvidence(
  index: Map<string, { points: Row[]; files: Set<string> }>,
  runIds: string[],
  point: Row,
): PointEvidence[] {
  const out: PointEvidence[] = [];
  for (const runId of runIds) {
    const run = index.get(runId);
    if (!run) continue;
    for (const row of run.points.filter((p) => same(point, p))) {
      const iteration = Number(row.iteration);
      const folder = `iterations/${String(iteration).padStart(3, '0')}`;
      const files = ITERATION_FILES.filter((file) => run.files.has(`${folder}/${file}`)).map(
        (file): EvidencePointer => ({
          run_id: runId,
          path: `${folder}/${file}`,
          label: `${LABEL[file]} of iteration ${iteration}`,
        }),
      );
      for (const path of [...run.files].sort()) {
        const inner = path.slice(folder.length + 1);
        if (path.startsWith(`${folder}/`) && SCRAPE_INDEX.test(inner)) {
          files.push({
            run_id: runId,
            path,
            label: `telemetry scrapes index (${inner}) of iteration ${iteration}`,
          });
        }
      }
      out.push({
        run_id: runId,
        iteration,
        files,
        lineage: { query: 'serving_points', run: runId, iteration },
      });
    }
  }
  return out;
}
