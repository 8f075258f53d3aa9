/**
 * A BenchmarkJob's status as `infermark k8s status|submit --wait` show it: read field by
 * field from whatever the API server holds (the status schema keeps unknown fields, and
 * controller and runner write it), rendered as a summary (state, run, iterations table,
 * results, failure) and as a one-line progress. Every string and row shown is bounded.
 */
import { ExitCode } from '../base/errors.js';

export type JobState = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
const TERMINAL: readonly string[] = ['Completed', 'Failed', 'Cancelled'];

export interface IterationRow {
  index: number | null;
  scenario: string;
  concurrency: number | null;
  rateRps: number | null;
  requests: number | null;
  errors: number | null;
  ttftP50Ms: number | null;
  ttftP99Ms: number | null;
  outputTokensPerS: number | null;
}

export interface JobView {
  name: string;
  namespace: string;
  /** `status.state`, or null before the controller wrote one. */
  state: string | null;
  details: string | null;
  startTime: string | null;
  completionTime: string | null;
  failureMessage: string | null;
  outcomeReason: string | null;
  runId: string | null;
  artifactManifestDigest: string | null;
  results: string | null;
  iterations: IterationRow[];
  /** Rows past MAX_ROWS, not shown. */
  moreIterations: number;
}

const MAX_TEXT = 300;
const MAX_ROWS = 500;

type Obj = Record<string, unknown>;
const obj = (value: unknown): Obj =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== ''
    ? value.length > MAX_TEXT
      ? `${value.slice(0, MAX_TEXT - 1)}…`
      : value
    : null;
const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** The view of a BenchmarkJob object as the API server returned it. */
export function jobView(resource: unknown): JobView {
  const metadata = obj(obj(resource).metadata);
  const status = obj(obj(resource).status);
  const rows = Array.isArray(status.iterations) ? status.iterations : [];
  return {
    name: text(metadata.name) ?? '?',
    namespace: text(metadata.namespace) ?? '?',
    state: text(status.state),
    details: text(status.details),
    startTime: text(status.startTime),
    completionTime: text(status.completionTime),
    failureMessage: text(status.failureMessage),
    outcomeReason: text(obj(status.outcome).reason),
    runId: text(status.runId),
    artifactManifestDigest: text(status.artifactManifestDigest),
    results: text(status.results),
    iterations: rows.slice(0, MAX_ROWS).map((row) => {
      const it = obj(row);
      return {
        index: num(it.index),
        scenario: text(it.scenario) ?? '?',
        concurrency: num(it.concurrency),
        rateRps: num(it.rateRps),
        requests: num(it.requests),
        errors: num(it.errors),
        ttftP50Ms: num(it.ttftP50Ms),
        ttftP99Ms: num(it.ttftP99Ms),
        outputTokensPerS: num(it.outputTokensPerS),
      };
    }),
    moreIterations: Math.max(0, rows.length - MAX_ROWS),
  };
}

export const isTerminal = (state: string | null): boolean => state !== null && TERMINAL.includes(state);

/** `k8s submit --wait`'s exit: 0 Completed, 1 Failed, 130 Cancelled (124, a timeout, is the caller's). */
export function exitCodeOf(state: string | null): number {
  if (state === 'Completed') return ExitCode.ok;
  if (state === 'Cancelled') return ExitCode.interrupted;
  return ExitCode.failure;
}

/** What changed for the progress display: state and details. */
export function progressKey(view: JobView): string {
  return `${view.state ?? ''}\u0000${view.details ?? ''}`;
}

/** `NAME: Running: Running iteration 2/6: D(100,100) concurrency=4 (41 s)`. */
export function progressLine(view: JobView, elapsed_s: number): string {
  const state = view.state ?? 'no status yet';
  return `${view.name}: ${state}${view.details ? `: ${view.details}` : ''} (${Math.round(elapsed_s)} s)`;
}

const fixed = (value: number | null, digits: number): string =>
  value === null ? '—' : value.toFixed(digits);

/** The summary: state, run, results, the iterations table and the failure, as lines. */
export function renderSummary(view: JobView): string {
  const lines: string[] = [`benchmarkjob ${view.namespace}/${view.name}: ${view.state ?? 'no status yet'}`];
  if (view.details) lines.push(`  details: ${view.details}`);
  if (view.startTime)
    lines.push(`  started: ${view.startTime}${view.completionTime ? `, ended: ${view.completionTime}` : ''}`);
  if (view.runId) lines.push(`  run: ${view.runId}`);
  if (view.artifactManifestDigest) lines.push(`  artifact_manifest_digest: ${view.artifactManifestDigest}`);
  if (view.results) lines.push(`  results: ${view.results}`);
  if (view.iterations.length > 0) {
    const header = [
      '#',
      'scenario',
      'concurrency',
      'requests',
      'errors',
      'TTFT p50 ms',
      'TTFT p99 ms',
      'output tok/s',
    ];
    const rows = view.iterations.map((it, i) => [
      String(it.index ?? i),
      it.scenario,
      it.concurrency !== null ? String(it.concurrency) : it.rateRps !== null ? `${it.rateRps} rps` : '—',
      it.requests === null ? '—' : String(it.requests),
      it.errors === null ? '—' : String(it.errors),
      fixed(it.ttftP50Ms, 1),
      fixed(it.ttftP99Ms, 1),
      fixed(it.outputTokensPerS, 1),
    ]);
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    // Text columns left, numbers right.
    const cell = (value: string, c: number): string =>
      c === 1 ? value.padEnd(widths[c]!) : value.padStart(widths[c]!);
    lines.push(`  iterations (${view.iterations.length + view.moreIterations}):`);
    for (const row of [header, ...rows]) lines.push(`    ${row.map(cell).join('  ').trimEnd()}`);
    if (view.moreIterations > 0) lines.push(`    … ${view.moreIterations} more (kubectl get -o yaml)`);
  }
  const failure = view.failureMessage ?? (view.state === 'Failed' ? view.outcomeReason : null);
  if (failure) lines.push(`  failed: ${failure}`);
  return `${lines.join('\n')}\n`;
}
