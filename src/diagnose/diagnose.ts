/**
 * `diagnose(warehouse, { runId, baselineRunId })`: the pivot performance-warehouse.md asks
 * for — run got slower → affected workload points → abnormal nodes / GPUs / requests →
 * raw evidence. A run or run group is matched point by point (scenario × concurrency or
 * rate) with its baseline; each point is judged (compare-point.ts), then every playbook
 * reads the judged points (playbooks.ts). Without a baseline the single-run playbooks
 * (saturation knee, straggler, client limit) still judge the run.
 */
import { runIdsOf } from '../gate/warehouse-group.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import {
  decompose,
  judgeChange,
  outliers,
  relativeChange,
  requestTests,
  statChanges,
  telemetryMoves,
} from './compare-point.js';
import { DIAGNOSIS_SCHEMA_VERSION, type Diagnosis, type PointDiagnosis } from './diagnosis.js';
import { firePlaybooks, type JudgedPoint } from './playbooks.js';
import { loadPoints, loadRequests, loadTelemetry, type PointRow } from './point-data.js';

export interface DiagnoseRequest {
  /** A run_id, a unique prefix, or a run_group_id (its repeats are pooled). */
  runId: string;
  baselineRunId?: string;
}

const keyOf = (p: PointRow): string => `${p.scenario}@${p.point}`;

/** Groups a run group's repeats of one point together (first repeat's order). */
function byPoint(rows: PointRow[]): Map<string, PointRow[]> {
  const out = new Map<string, PointRow[]>();
  for (const row of rows) out.set(keyOf(row), [...(out.get(keyOf(row)) ?? []), row]);
  return out;
}

/** One row for a point's repeats: the first repeat's figures (tests pool every repeat's requests). */
const representative = (rows: PointRow[]): PointRow => rows[0] as PointRow;

export async function diagnose(warehouse: Warehouse, request: DiagnoseRequest): Promise<Diagnosis> {
  const currentIds = await runIdsOf(warehouse, request.runId);
  const baselineIds =
    request.baselineRunId === undefined ? null : await runIdsOf(warehouse, request.baselineRunId);
  const notes: string[] = [];
  if (currentIds.length > 1)
    notes.push(`${request.runId} is a run group of ${currentIds.length} repeats: requests are pooled`);
  if (baselineIds && baselineIds.length > 1) {
    notes.push(
      `baseline ${request.baselineRunId} is a run group of ${baselineIds.length} repeats: requests are pooled`,
    );
  }
  const current = byPoint(await loadPoints(warehouse, currentIds));
  const baseline = baselineIds === null ? null : byPoint(await loadPoints(warehouse, baselineIds));
  if (current.size === 0) notes.push('the run has no workload points in the warehouse');

  const judged: JudgedPoint[] = [];
  for (const [key, rows] of current) {
    const base = baseline?.get(key) ?? null;
    if (baseline !== null && base === null) notes.push(`${key}: not in the baseline, judged alone`);
    const cur = representative(rows);
    const basePoint = base ? representative(base) : null;
    const [requests, baseRequests, telemetry, baseTelemetry] = await Promise.all([
      loadRequests(warehouse, rows),
      base ? loadRequests(warehouse, base) : Promise.resolve(null),
      loadTelemetry(warehouse, rows),
      base ? loadTelemetry(warehouse, base) : Promise.resolve(null),
    ]);
    const stats = statChanges(cur, basePoint);
    const tests = baseRequests ? requestTests(requests, baseRequests) : [];
    const throughput = relativeChange(
      basePoint?.output_throughput_tokens_per_s ?? null,
      cur.output_throughput_tokens_per_s,
    );
    const { changed, shape } = baseRequests
      ? judgeChange(stats, tests, throughput)
      : { changed: false, shape: 'unchanged' as const };
    const low = tests.filter((t) => t.samples_current < 20 || t.samples_baseline < 20);
    if (low.length > 0)
      notes.push(`${key}: fewer than 20 requests on a side; changes are judged on few samples`);
    const diagnosis: PointDiagnosis = {
      scenario: cur.scenario,
      point: cur.point,
      iteration: cur.iteration,
      baseline_iteration: basePoint?.iteration ?? null,
      changed,
      shape,
      stats,
      tests,
      decomposition: {
        baseline: basePoint && baseRequests ? decompose(basePoint, baseRequests, baseTelemetry ?? []) : null,
        current: decompose(cur, requests, telemetry),
      },
      telemetry: telemetryMoves(telemetry, baseTelemetry),
      outliers: outliers(cur, requests),
      evidence: [
        {
          run_id: cur.run_id,
          path: `iterations/${String(cur.iteration).padStart(3, '0')}/summary.json`,
          label: `summary of ${key}`,
        },
      ],
    };
    judged.push({
      diagnosis,
      current: cur,
      baseline: basePoint,
      telemetry,
      baselineTelemetry: baseTelemetry,
    });
  }
  if (judged.length > 0 && judged.every((p) => p.telemetry.length === 0)) {
    notes.push(
      'no telemetry by window in the warehouse for this run: playbooks that read server or GPU metrics could not judge',
    );
  }
  return {
    schema_version: DIAGNOSIS_SCHEMA_VERSION,
    run_id: currentIds.length === 1 ? (currentIds[0] as string) : request.runId,
    baseline_run_id:
      baselineIds === null
        ? null
        : baselineIds.length === 1
          ? (baselineIds[0] as string)
          : (request.baselineRunId ?? null),
    points: judged.map((p) => p.diagnosis),
    findings: firePlaybooks({ compare: baselineIds !== null, points: judged }),
    notes,
  };
}
