/**
 * The label policy of the hot metrics (performance-warehouse.md, "Cardinality And
 * Retention"): the only label names a hot series may carry, and the one function
 * that builds a label set. Identity labels are the document's allowlist; besides
 * them a series may carry only closed enums (`outcome`, `phase`, `error_class`),
 * whose values are fixed in code and so add a bounded factor. Everything else
 * (request ids, trace ids, prompt hashes, user tags) is refused here, so it can
 * reach Prometheus only by changing this file.
 */
import { InfermarkError } from '../base/errors.js';
import type { IterationPlan } from '../plan/plan.js';
import type { RequestPhase, RequestStatus } from '../metrics/record.js';
import { ERROR_CLASSES } from '../metrics/request-outcomes.js';

/** The document's allowlist: the run's identity and where it ran (constant for a run). */
export const IDENTITY_LABELS = [
  'run_id',
  'benchmark_case_id',
  'cluster',
  'region',
  'node_pool',
  'gpu_model',
  'scheduler_path',
] as const;

/** Closed-loop concurrency in coarse powers-of-4 bands; open-loop iterations have no fixed concurrency. */
export const CONCURRENCY_BUCKETS = ['1', '2-4', '5-16', '17-64', '65-256', '257+', 'rate', 'trace'] as const;

export const OUTCOMES: readonly RequestStatus[] = ['ok', 'error', 'cancelled'];
export const PHASES: readonly RequestPhase[] = ['warmup', 'measured'];
/** The record's error classes, plus `unclassified` for an error without one (as the iteration summary counts it). */
export { ERROR_CLASSES };

/** Labels whose values come from a closed set fixed in code. */
export const ENUM_LABELS = {
  concurrency_bucket: CONCURRENCY_BUCKETS,
  outcome: OUTCOMES,
  phase: PHASES,
  error_class: ERROR_CLASSES,
} as const satisfies Record<string, readonly string[]>;

export type IdentityLabel = (typeof IDENTITY_LABELS)[number];
export type EnumLabel = keyof typeof ENUM_LABELS;
export type HotLabelName = IdentityLabel | EnumLabel;
export type ConcurrencyBucket = (typeof CONCURRENCY_BUCKETS)[number];

/** Every label name a hot series may carry; prom-client adds `le` to histogram buckets. */
export const HOT_LABEL_NAMES: readonly HotLabelName[] = [
  ...IDENTITY_LABELS,
  ...(Object.keys(ENUM_LABELS) as EnumLabel[]),
];

/** A label set that went through `hotLabels`. */
export type HotLabels = Readonly<Partial<Record<HotLabelName, string>>>;

/** What a missing topology label reads as (an empty value would drop the label in PromQL). */
export const UNKNOWN = 'unknown';

// Kubernetes' label-value grammar: what `metadata.labels` values may hold anyway.
const K8S_LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
// 16+ hex digits in a row is an identifier (trace and span ids, digests), not a place.
const ID_LIKE = /[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Why a value is refused for a label, or null when it is allowed. */
export function hotLabelProblem(name: HotLabelName, value: string): string | null {
  if (name in ENUM_LABELS) {
    const allowed = ENUM_LABELS[name as EnumLabel] as readonly string[];
    return allowed.includes(value) ? null : `must be one of ${allowed.join(', ')}`;
  }
  if (name === 'run_id') return UUID.test(value) ? null : 'must be a run id (UUID)';
  if (name === 'benchmark_case_id')
    return SHA256_DIGEST.test(value) ? null : 'must be a digest (sha256:<64 hex digits>)';
  if (!K8S_LABEL_VALUE.test(value))
    return 'must be a Kubernetes label value (≤ 63 characters of letters, digits, "-", "_", ".")';
  if (ID_LIKE.test(value)) return 'looks like an identifier or a hash, which would make one series per value';
  return null;
}

/** Thrown for a label name outside the allowlist or a value its label does not allow. */
export class HotLabelError extends InfermarkError {
  constructor(
    message: string,
    readonly label: string,
  ) {
    super('E_HOT_LABEL', message);
    this.name = 'HotLabelError';
  }
}

/**
 * Builds a hot-metric label set: the one way a label reaches a hot series.
 * @throws HotLabelError for a name outside HOT_LABEL_NAMES or a value its label refuses.
 */
export function hotLabels(input: Readonly<Record<string, string>>): HotLabels {
  const out: Partial<Record<HotLabelName, string>> = {};
  for (const [name, value] of Object.entries(input)) {
    if (!(HOT_LABEL_NAMES as readonly string[]).includes(name)) {
      throw new HotLabelError(
        `"${name}" is not a hot-metric label (allowed: ${HOT_LABEL_NAMES.join(', ')}); ` +
          'per-request identifiers belong in the run folder and the warehouse',
        name,
      );
    }
    const problem = hotLabelProblem(name as HotLabelName, value);
    if (problem)
      throw new HotLabelError(`hot-metric label ${name}=${JSON.stringify(value)}: ${problem}`, name);
    out[name as HotLabelName] = value;
  }
  return Object.freeze(out);
}

/** The coarse concurrency band of an iteration. */
export function concurrencyBucket(plan: Pick<IterationPlan, 'mode' | 'concurrency'>): ConcurrencyBucket {
  if (plan.mode !== 'concurrency') return plan.mode;
  const c = plan.concurrency ?? 1;
  if (c <= 1) return '1';
  if (c <= 4) return '2-4';
  if (c <= 16) return '5-16';
  if (c <= 64) return '17-64';
  if (c <= 256) return '65-256';
  return '257+';
}
