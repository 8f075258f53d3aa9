/**
 * The BenchmarkJob as it lives in the cluster: metadata, the spec as stored, and the status
 * with its two writers (docs/k8s.md): the controller's fields and the runner's.
 */

export type State = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
export const TERMINAL: readonly State[] = ['Completed', 'Failed', 'Cancelled'];

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** One finished iteration, as the runner reports it. */
export interface IterationStatus {
  index: number;
  scenario: string;
  concurrency?: number;
  rateRps?: number;
  /** Measured requests. */
  requests: number;
  errors: number;
  ttftP50Ms: number | null;
  ttftP99Ms: number | null;
  outputTokensPerS: number | null;
}

export type Outcome =
  { result: 'succeeded' } | { result: 'failed'; reason: string } | { result: 'cancelled'; reason?: string };

/** The controller's fields. */
export interface ControllerStatus {
  state?: State;
  startTime?: string;
  completionTime?: string;
  lastReconcileTime?: string;
  failureMessage?: string;
  conditions?: Condition[];
  observedGeneration?: number;
  /** Pods the run is split over. */
  workers?: number;
}

/** The runner's fields. */
export interface RunnerStatus {
  details?: string;
  runId?: string;
  iterations?: IterationStatus[];
  artifactManifestDigest?: string;
  results?: string;
  outcome?: Outcome;
}

export type BenchmarkJobStatus = ControllerStatus & RunnerStatus;

export interface BenchmarkJobObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: BenchmarkJobStatus;
}
