/**
 * A Diagnosis as diagnose() could return it, for the renderers' tests: three
 * findings (one with evidence on a JSONL line, one on a whole scrape file, one with
 * none), a changed point with statistics, tests, a decomposition baseline vs
 * current, telemetry that moved window by window, outlier requests, an unchanged
 * point and notes. Its strings carry markup, so a renderer that forgets to escape
 * shows it. The evidence paths and lines are parameters: a test on a real run
 * folder points them at real files.
 */
import { DIAGNOSIS_SCHEMA_VERSION, type Diagnosis } from '../../diagnose/diagnosis.js';

export const HOSTILE = '<img src=x onerror=alert(1)>';

export interface FixtureOptions {
  runId: string;
  baselineRunId: string | null;
  /** A JSONL file of the current run and a line of it (an outlier request's record). */
  requestsPath?: string;
  requestsLine?: number;
  /** A whole file of the current run (a telemetry scrape). */
  scrapePath?: string;
}

export function fixtureDiagnosis(options: FixtureOptions): Diagnosis {
  const runId = options.runId;
  const requests = options.requestsPath ?? 'iterations/001/requests.jsonl';
  const line = options.requestsLine ?? 7;
  const scrape = options.scrapePath ?? 'iterations/001/telemetry/gpu-0003.prom.gz';
  const request = { run_id: runId, path: requests, line, label: `request r-7 (trace 4bf9${HOSTILE})` };
  const scrapeFile = { run_id: runId, path: scrape, label: 'scrape 0003 of gpu-node-b' };
  return {
    schema_version: DIAGNOSIS_SCHEMA_VERSION,
    run_id: runId,
    baseline_run_id: options.baselineRunId,
    findings: [
      {
        playbook: 'server-queue',
        title: `Requests wait in the server's queue ${HOSTILE}`,
        interpretation: 'queueing, not compute: the server admits fewer requests at once',
        severity: 'high',
        points: ['D(16,6)@c8'],
        facts: [
          'TTFT p50 rose from 12 ms to 96 ms (+700 %) at D(16,6)@c8',
          'server queue time rose from 0.4 ms to 81 ms',
        ],
        check_next: ['max_num_seqs / batch capacity', 'KV-cache size', `a ${HOSTILE} check`],
        evidence: [request, scrapeFile],
      },
      {
        playbook: 'gpu-throttling',
        title: 'GPU clocks dropped',
        interpretation: 'thermal or power throttling slows decode',
        severity: 'medium',
        points: ['D(16,6)@c8'],
        facts: ['SM clock fell from 1980 MHz to 1410 MHz on GPU-1'],
        check_next: ['DCGM clock-throttle reasons', 'temperature and power limits'],
        evidence: [scrapeFile],
      },
      {
        playbook: 'client-limited',
        title: 'The client may be the limit',
        interpretation: 'event-loop delay on the client',
        severity: 'low',
        points: [],
        facts: ['event-loop delay p99 34 ms'],
        check_next: [],
        evidence: [],
      },
    ],
    points: [
      {
        scenario: 'D(16,6)',
        point: 'c8',
        iteration: 1,
        baseline_iteration: 1,
        changed: true,
        shape: 'whole-distribution',
        stats: [
          {
            metric: 'ttft',
            field: 'ttft_ms',
            unit: 'ms',
            stat: 'p50',
            baseline: 12,
            current: 96,
            relative_change: 7,
            verdict: 'worse',
          },
          {
            metric: 'ttft',
            field: 'ttft_ms',
            unit: 'ms',
            stat: 'p99',
            baseline: 20.25,
            current: 180.5,
            relative_change: 7.913580246913581,
            verdict: 'worse',
          },
          {
            metric: 'output_throughput',
            field: 'output_throughput_tokens_per_s',
            unit: 'tokens/s',
            stat: 'mean',
            baseline: 900,
            current: 880,
            relative_change: -0.0222,
            verdict: 'same',
          },
        ],
        tests: [
          {
            method: 'requests',
            metric: 'ttft',
            samples_baseline: 40,
            samples_current: 40,
            shift: 84,
            shift_low: 78.5,
            shift_high: 90.25,
            p_value: 0.0001,
            significant: true,
          },
        ],
        decomposition: {
          baseline: {
            client_queue_ms: 0.2,
            server_queue_ms: 0.4,
            prefill_ms: 11.4,
            decode_ms: 40,
            ttft_ms: 12,
            e2e_latency_ms: 52,
          },
          current: {
            client_queue_ms: 0.3,
            server_queue_ms: 81,
            prefill_ms: 15,
            decode_ms: 42,
            ttft_ms: 96,
            e2e_latency_ms: 138,
          },
        },
        telemetry: [
          {
            family: 'num_requests_waiting',
            unit: 'requests',
            scope: 'server',
            scope_id: 'server-0',
            node_name: null,
            baseline: 0,
            current: 6.5,
            relative_change: null,
            windows: [
              { start_us: 0, end_us: 2_000_000, value: 4 },
              { start_us: 2_000_000, end_us: 4_000_000, value: 7 },
              { start_us: 4_000_000, end_us: 6_000_000, value: 8.5 },
            ],
            evidence: [scrapeFile],
          },
          {
            family: 'sm_clock',
            unit: 'MHz',
            scope: 'gpu',
            scope_id: `GPU-1${HOSTILE}`,
            node_name: 'gpu-node-b',
            baseline: 1980,
            current: 1410,
            relative_change: -0.2879,
            windows: [{ start_us: 0, end_us: 2_000_000, value: 1410 }],
            evidence: [],
          },
        ],
        outliers: [
          {
            request_id: 'r-7',
            trace_id: '4bf92f3577b34da6',
            ttft_ms: 210.5,
            e2e_latency_ms: 260,
            evidence: request,
          },
          {
            request_id: 'r-9',
            trace_id: null,
            ttft_ms: null,
            e2e_latency_ms: 250,
            evidence: { ...request, line: line + 1 },
          },
        ],
        evidence: [{ run_id: runId, path: requests, label: 'the point’s requests' }],
      },
      {
        scenario: 'D(16,6)',
        point: 'c1',
        iteration: 0,
        baseline_iteration: 0,
        changed: false,
        shape: 'unchanged',
        stats: [],
        tests: [],
        decomposition: {
          baseline: null,
          current: {
            client_queue_ms: null,
            server_queue_ms: null,
            prefill_ms: null,
            decode_ms: 40,
            ttft_ms: 12,
            e2e_latency_ms: 52,
          },
        },
        telemetry: [],
        outliers: [],
        evidence: [],
      },
    ],
    notes: [`no GPU telemetry in the baseline ${HOSTILE}`],
  };
}
