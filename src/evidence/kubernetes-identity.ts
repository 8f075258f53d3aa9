/**
 * run.json's `kubernetes` block: which BenchmarkJob, pod and node ran the run, when it ran
 * in a pod (the controller and the downward API say so; docs/k8s.md). The warehouse keeps
 * job_uid, pod_uid and node_name on the run's row; a run outside Kubernetes has no block.
 */
export interface KubernetesIdentity {
  namespace: string;
  benchmark_job: string;
  job_uid: string | null;
  pod_uid: string | null;
  pod_name: string | null;
  node_name: string | null;
}
