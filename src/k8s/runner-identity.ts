/**
 * Who the run pod is, from its environment (docs/k8s.md: the controller sets the
 * BenchmarkJob's name and uid, the downward API the namespace, pod and node). Without the
 * BenchmarkJob and namespace the process is not a BenchmarkJob's runner: no status, no block.
 */
import type { KubernetesIdentity } from '../evidence/kubernetes-identity.js';
import { ENV } from './names.js';

/** The BenchmarkJob whose status this process keeps. */
export interface RunnerTarget {
  name: string;
  namespace: string;
}

export function runnerTarget(env: NodeJS.ProcessEnv): RunnerTarget | null {
  const name = env[ENV.benchmarkJob]?.trim();
  const namespace = env[ENV.namespace]?.trim();
  return name && namespace ? { name, namespace } : null;
}

/** run.json's `kubernetes` block; null outside a BenchmarkJob's pod. */
export function identityFromEnv(env: NodeJS.ProcessEnv): KubernetesIdentity | null {
  const target = runnerTarget(env);
  if (!target) return null;
  const value = (name: string): string | null => env[name]?.trim() || null;
  return {
    namespace: target.namespace,
    benchmark_job: target.name,
    job_uid: value(ENV.jobUid),
    pod_uid: value(ENV.podUid),
    pod_name: value(ENV.podName),
    node_name: value(ENV.nodeName),
  };
}
