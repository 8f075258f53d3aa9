/**
 * Every name the controller, the runner, the CLI and the tests agree on (docs/k8s.md):
 * nothing else spells a label, annotation, object name or variable of the Kubernetes part.
 */

export const GROUP = 'ome.io';
export const VERSION = 'v1beta1';
export const PLURAL = 'benchmarkjobs';
export const KIND = 'BenchmarkJob';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Additions past OME's CRD, as a JSON object merged over spec (survives structural pruning). */
export const SPEC_ANNOTATION = 'infermark.io/spec';
export const FINALIZER = 'infermark.io/cleanup';

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'infermark';
export const LABEL_JOB = 'infermark.io/benchmarkjob';
export const LABEL_ROLE = 'infermark.io/role';
export const LABEL_SHARD = 'infermark.io/shard';

export const CONTAINER = 'benchmark';
export const JOB_FILE_KEY = 'job.yaml';
export const JOB_MOUNT = '/etc/infermark';
export const RUNS_MOUNT = '/var/lib/infermark';
export const PVC_ROOT = '/mnt/pvc';
export const COORDINATOR_PORT = 7700;
export const RUNNER_ACCOUNT = 'infermark-runner';
export const LEASE_NAME = 'infermark-controller';

export const configMapName = (job: string): string => `${job}-job`;
export const runJobName = (job: string): string => job;
export const shardJobName = (job: string, index: number): string => `${job}-shard-${index}`;
export const coordinatorSecretName = (job: string): string => `${job}-coordinator`;

/** The run pod's environment: who it is, from the controller and the downward API. */
export const ENV = {
  benchmarkJob: 'INFERMARK_BENCHMARKJOB',
  namespace: 'INFERMARK_NAMESPACE',
  jobUid: 'INFERMARK_JOB_UID',
  podUid: 'INFERMARK_POD_UID',
  podName: 'INFERMARK_POD_NAME',
  nodeName: 'INFERMARK_NODE_NAME',
  pvcRoot: 'INFERMARK_PVC_ROOT',
  hfToken: 'HF_TOKEN',
} as const;

/** The controller's own objects (deploy/controller.yaml, src/k8s/manifests.ts). */
export const CONTROLLER_NAMESPACE = 'infermark-system';
/** Its ServiceAccount, ClusterRole, Role, bindings and Deployment. */
export const CONTROLLER_NAME = 'infermark-controller';
/** The ClusterRole the controller binds to RUNNER_ACCOUNT in each namespace. */
export const RUNNER_CLUSTER_ROLE = 'infermark-runner';
/** The image, tagged with the package version unless told otherwise. */
export const IMAGE_REPOSITORY = 'ghcr.io/infermark/infermark';
/** Values of LABEL_ROLE: the run pod, and a split run's shard pods. */
export const ROLE_RUN = 'run';
export const ROLE_SHARD = 'shard';
