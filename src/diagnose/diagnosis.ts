/**
 * What `infermark diagnose` finds, as plain data: per workload point, what moved and how
 * (percentiles, tail or whole distribution, the decomposition of TTFT and E2E, the
 * telemetry that moved with it, the outlier requests), then the playbook findings that
 * fired on that evidence. Every claim carries evidence pointers to raw files of a run
 * folder (path and line), so a renderer (terminal, Markdown, report, dashboard, MCP)
 * can link each finding to what proves it. Renderers read this; they never recompute it.
 */

export const DIAGNOSIS_SCHEMA_VERSION = 1;

/** A place in a run's raw evidence: a run-folder file, and a line of it for JSONL. */
export interface EvidencePointer {
  run_id: string;
  /** Run-folder relative path, as in the manifest: `iterations/003/requests.jsonl`. */
  path: string;
  /** 1-based line of `path` (JSONL records); absent for a whole file. */
  line?: number;
  /** What it is, for a link's text: `request 7f3a… (trace 4bf9…)`, `scrape 0012 of gpu-node-b`. */
  label: string;
}

/** One statistic of one metric, baseline against current. */
export interface StatChange {
  /** Registry name (`ttft`, `e2e_latency`), its summary field (`ttft_ms`) and unit. */
  metric: string;
  field: string;
  unit: string;
  stat: 'p50' | 'p90' | 'p99' | 'mean';
  baseline: number | null;
  current: number | null;
  /** current / baseline − 1; null when either is missing or the baseline is 0. */
  relative_change: number | null;
  /** Judged with the registry's direction. */
  verdict: 'worse' | 'better' | 'same';
}

/** How a distribution changed. */
export type ChangeShape = 'tail-only' | 'whole-distribution' | 'improved' | 'unchanged';

/** Mean components of a latency, in ms, for one run at one point; null where not measurable. */
export interface Decomposition {
  /** Client side: sent_at − scheduled_at (open loop), from request_fact. */
  client_queue_ms: number | null;
  /** Server queue: the server's own queue-time histogram mean over the point's windows. */
  server_queue_ms: number | null;
  /** Prefill: the server's prefill-time mean, or TTFT − server queue when the server does not report it. */
  prefill_ms: number | null;
  /** Decode: E2E − TTFT (client measured). */
  decode_ms: number | null;
  ttft_ms: number | null;
  e2e_latency_ms: number | null;
}

/** A telemetry family that moved with the change, at one scope. */
export interface TelemetryMove {
  /** Registry family (`sm_clock`) and the unit of its values. */
  family: string;
  unit: string;
  /** `gpu` / `node` / `pod` / `server`, and which one (a GPU UUID, a node name, a target). */
  scope: string;
  scope_id: string;
  node_name: string | null;
  baseline: number | null;
  current: number;
  relative_change: number | null;
  /** Current run's windows at this point, in order (window bounds: µs on the run's records' clock). */
  windows: { start_us: number; end_us: number; value: number }[];
  evidence: EvidencePointer[];
}

/** A request far out in the current run's distribution. */
export interface OutlierRequest {
  request_id: string;
  trace_id: string | null;
  ttft_ms: number | null;
  e2e_latency_ms: number | null;
  evidence: EvidencePointer;
}

/** Statistics of a change: the gate's with repeats, else a request-level test with its sample sizes. */
export interface ChangeTest {
  method: 'repeats' | 'requests';
  metric: string;
  samples_baseline: number;
  samples_current: number;
  /** Hodges–Lehmann shift (current − baseline) and its interval, in the metric's unit. */
  shift: number | null;
  shift_low: number | null;
  shift_high: number | null;
  p_value: number | null;
  significant: boolean;
}

/** One workload point (scenario × concurrency or rate) of the current run. */
export interface PointDiagnosis {
  scenario: string;
  /** `c16`, `r2_5`, `trace` (the gate's point names). */
  point: string;
  iteration: number;
  baseline_iteration: number | null;
  changed: boolean;
  shape: ChangeShape;
  stats: StatChange[];
  tests: ChangeTest[];
  decomposition: { baseline: Decomposition | null; current: Decomposition };
  telemetry: TelemetryMove[];
  outliers: OutlierRequest[];
  evidence: EvidencePointer[];
}

/** The playbooks (performance-warehouse.md's scenarios and the serving ones). */
export type PlaybookId =
  | 'tail-amplification'
  | 'gpus-waiting'
  | 'straggler'
  | 'gpu-throttling'
  | 'server-queue'
  | 'saturation-knee'
  | 'kv-cache-pressure'
  | 'client-limited';

/** A playbook that fired: what it means, on what evidence, and what to check next. */
export interface Finding {
  playbook: PlaybookId;
  title: string;
  /** The playbook's reading: `tail amplification, not raw compute regression`. */
  interpretation: string;
  severity: 'high' | 'medium' | 'low';
  /** The points it concerns, `scenario@point`. */
  points: string[];
  /** The facts that fired it, as sentences with numbers. */
  facts: string[];
  check_next: string[];
  evidence: EvidencePointer[];
}

export interface Diagnosis {
  schema_version: typeof DIAGNOSIS_SCHEMA_VERSION;
  run_id: string;
  baseline_run_id: string | null;
  points: PointDiagnosis[];
  findings: Finding[];
  /** What could not be judged and why: no telemetry, a point missing from the baseline, too few samples. */
  notes: string[];
}
