/**
 * Where a job ran, as its metadata says: the Kubernetes labels infermark reads
 * for cluster, region, zone, node pool and scheduler path, and the GPU model
 * from `spec.serviceMetadata`. One reader for every consumer (the warehouse's
 * cluster and hardware dimensions, the hot metrics' labels), so a label key is
 * spelled in one place.
 */
import type { BenchmarkJob } from './job-schema.js';

/** The `metadata.labels` keys read, by the field they fill. */
export const TOPOLOGY_LABEL_KEYS = {
  cluster: 'infermark.io/cluster',
  region: 'topology.kubernetes.io/region',
  zone: 'topology.kubernetes.io/zone',
  node_pool: 'infermark.io/node-pool',
  scheduler_path: 'infermark.io/scheduler-path',
} as const;

/** A run that names no scheduler path was started by hand, not by a controller. */
export const DEFAULT_SCHEDULER_PATH = 'local';

export interface JobTopology {
  cluster: string | null;
  region: string | null;
  zone: string | null;
  node_pool: string | null;
  scheduler_path: string;
  /** `spec.serviceMetadata.gpuType`, the GPU the job declares (not what the client host has). */
  gpu_model: string | null;
}

/** The job's topology; a missing label is null (the scheduler path defaults to `local`). */
export function jobTopology(job: BenchmarkJob): JobTopology {
  const labels = job.metadata.labels ?? {};
  return {
    cluster: labels[TOPOLOGY_LABEL_KEYS.cluster] ?? null,
    region: labels[TOPOLOGY_LABEL_KEYS.region] ?? null,
    zone: labels[TOPOLOGY_LABEL_KEYS.zone] ?? null,
    node_pool: labels[TOPOLOGY_LABEL_KEYS.node_pool] ?? null,
    scheduler_path: labels[TOPOLOGY_LABEL_KEYS.scheduler_path] ?? DEFAULT_SCHEDULER_PATH,
    gpu_model: job.spec.serviceMetadata?.gpuType ?? null,
  };
}
