/**
 * RBAC rules as data (placeholder until the manifests land): what the runner in a
 * BenchmarkJob's pod may do.
 */
import type { V1PolicyRule } from '@kubernetes/client-node';

export const RUNNER_RULES: V1PolicyRule[] = [
  { apiGroups: ['ome.io'], resources: ['benchmarkjobs'], verbs: ['get'] },
  { apiGroups: ['ome.io'], resources: ['benchmarkjobs/status'], verbs: ['get', 'patch'] },
];
