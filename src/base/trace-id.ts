/**
 * W3C Trace Context identity for each request (`traceparent: 00-<trace_id>-<span_id>-01`),
 * so a request in the run folder can be found in the server's logs and traces.
 * The trace id is derived, not drawn: the run_id's 62 random bits, then the
 * iteration and the request index, which makes it unique across runs and lets
 * anyone recompute it from (run_id, iteration, index) without a lookup.
 */

/** 32 lowercase hex digits: 16 from the run_id's random half, 4 for the iteration, 12 for the index. */
export function traceIdFor(runId: string, iteration: number, index: number): string {
  const runHex = runId.replaceAll('-', '').slice(16, 32).padStart(16, '0');
  return `${runHex}${hex(iteration, 4)}${hex(index, 12)}`;
}

/** The `traceparent` header for a trace id: this request is the root span (sampled). */
export function traceparentFor(traceId: string): string {
  // A span id of all zeros is invalid; the index part plus one never is.
  const spanId = hex(Number.parseInt(traceId.slice(20), 16) + 1, 16);
  return `00-${traceId}-${spanId}-01`;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0').slice(-digits);
}
