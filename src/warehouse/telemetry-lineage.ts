/**
 * Telemetry rows walked back to their raw scrapes: every telemetry_slice_fact row of a run
 * names the scrape file that closes its window (source_path); that path must be one of the
 * run's artifacts (run_artifact), and the file in the run folder must still have the digest
 * the manifest sealed. A row whose chain breaks is not evidence.
 */
import { join } from 'node:path';
import { digestFile } from '../base/digest.js';
import { isSafeArtifactPath } from '../evidence/manifest.js';
import type { Warehouse } from './warehouse.js';

export interface TelemetryLineage {
  rows: number;
  /** Distinct scrape files the rows point at. */
  paths: number;
  /** Rows whose source_path is not an artifact of the run (or is NULL). */
  unknown: { source_path: string | null; rows: number }[];
  /** Scrape files missing from the folder, or whose bytes no longer match their sealed digest. */
  changed: { path: string; sealed: string; actual: string | null }[];
}

/** Checks every telemetry row of `runId` against run_artifact and the files in `runDir`. */
export async function checkTelemetryLineage(
  warehouse: Warehouse,
  runId: string,
  runDir: string,
): Promise<TelemetryLineage> {
  const groups = await warehouse.all(
    `SELECT t.source_path, a.sha256, count(*) AS n
     FROM telemetry_slice_fact t
     LEFT JOIN run_artifact a ON a.run_id = t.run_id AND a.path = t.source_path
     WHERE t.run_id = $1
     GROUP BY ALL ORDER BY t.source_path`,
    [runId],
  );
  const report: TelemetryLineage = { rows: 0, paths: 0, unknown: [], changed: [] };
  for (const group of groups) {
    const rows = Number(group.n);
    report.rows += rows;
    const path = group.source_path === null ? null : String(group.source_path);
    if (path === null || group.sha256 === null || !isSafeArtifactPath(path)) {
      report.unknown.push({ source_path: path, rows });
      continue;
    }
    report.paths++;
    const sealed = String(group.sha256);
    const actual = await digestFile(join(runDir, path)).then(
      (d) => d.sha256,
      () => null,
    );
    if (actual !== sealed) report.changed.push({ path, sealed, actual });
  }
  return report;
}
