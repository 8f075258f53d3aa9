/**
 * `diagnose(warehouse, { runId, baselineRunId })`: the pivot performance-warehouse.md asks
 * for — run got slower → affected workload points → abnormal nodes / GPUs / requests →
 * raw evidence. A run or run group is matched point by point (scenario × concurrency or
 * rate) with its baseline; each point is judged (compare-point.ts), then every playbook
 * reads the judged points (playbooks.ts). Without a baseline the single-run playbooks
 * (saturation knee, straggler, client limit) still judge the run.
 */
import { InfermarkError } from '../base/errors.js';
import { baselineFrom } from '../gate/baseline.js';
import { regressionChecks, type RegressionCheck } from '../gate/checks.js';
import { DEFAULT_TOLERANCES } from '../gate/default-tolerances.js';
import { loadRunGroupFromWarehouse, runIdsOf } from '../gate/warehouse-group.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import {
  decompose,
  judgeChange,
  outliers,
  relativeChange,
  requestTests,
  tailTests,
  statChanges,
  telemetryMoves,
} from './compare-point.js';
import {
  DIAGNOSIS_SCHEMA_VERSION,
  type ChangeTest,
  type Diagnosis,
  type PointDiagnosis,
} from './diagnosis.js';
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

/**
 * With repeats on both sides, the gate's own regression checks (per-repeat values,
 * Mann-Whitney, Holm, the default tolerances); null, with a note, where they cannot run.
 */
async function gateChecks(
  warehouse: Warehouse,
  baselineIds: string[],
  currentIds: string[],
  notes: string[],
): Promise<RegressionCheck[] | null> {
  if (baselineIds.length < 2 || currentIds.length < 2) return null;
  try {
    const a = await loadRunGroupFromWarehouse(warehouse, baselineIds);
    const b = await loadRunGroupFromWarehouse(warehouse, currentIds);
    if (a.config_fingerprint !== b.config_fingerprint) {
      notes.push(
        'the two sides are different cases: the gate compares repeats of one case only; request-level tests instead',
      );
      return null;
    }
    return regressionChecks(
      { path: 'baseline run group', sha256: '', value: baselineFrom(a) },
      DEFAULT_TOLERANCES,
      b,
    );
  } catch (error) {
    if (!(error instanceof InfermarkError)) throw error;
    notes.push(`the gate's repeat statistics could not run (${error.message}); request-level tests instead`);
    return null;
  }
}

/** The gate's checks of one point as one test per judged latency: its most certain statistic. */
function repeatTests(checks: RegressionCheck[], scenario: string, point: string): ChangeTest[] {
  const out: ChangeTest[] = [];
  for (const field of ['ttft_ms', 'tpot_ms', 'e2e_latency_ms']) {
    const mine = checks.filter((c) => c.key.startsWith(`${scenario}.${point}.${field}.`));
    if (mine.length === 0) continue;
    const best = [...mine].sort((x, y) => x.test.p_holm - y.test.p_holm)[0] as RegressionCheck;
    const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
    out.push({
      method: 'repeats',
      metric: field.replace(/_ms$/, ''),
      samples_baseline: best.baseline.samples.length,
      samples_current: best.candidate.samples.length,
      shift: best.regression.estimate,
      shift_low: finite(best.regression.lower_bound),
      shift_high: finite(best.regression.upper_bound),
      p_value: best.test.p_holm,
      significant: mine.some((c) => c.verdict === 'FAIL'),
    });
  }
  return out;
}

/**
 * Per latency, the gate's repeats test where it found a regression; elsewhere the pooled
 * request-level test. Below the gate's minimum repeats (5), or with few repeats and Holm
 * over every key, its verdicts are INCONCLUSIVE: not evidence of no change.
 */
function decisive(repeats: ChangeTest[], requests: ChangeTest[]): ChangeTest[] {
  return requests.map((r) => repeats.find((t) => t.metric === r.metric && t.significant) ?? r);
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

  const checks = baselineIds === null ? null : await gateChecks(warehouse, baselineIds, currentIds, notes);
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
    const tests = baseRequests
      ? checks !== null
        ? [
            ...decisive(repeatTests(checks, cur.scenario, cur.point), requestTests(requests, baseRequests)),
            ...tailTests(requests, baseRequests),
          ]
        : [...requestTests(requests, baseRequests), ...tailTests(requests, baseRequests)]
      : [];
    const throughput = relativeChange(
      basePoint?.output_throughput_tokens_per_s ?? null,
      cur.output_throughput_tokens_per_s,
    );
    const { changed, shape } = baseRequests
      ? judgeChange(stats, tests, throughput)
      : { changed: false, shape: 'unchanged' as const };
    const low = tests.filter(
      (t) => t.method === 'requests' && (t.samples_current < 20 || t.samples_baseline < 20),
    );
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
