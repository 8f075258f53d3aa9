/**
 * What the run pod may do in the API (docs/k8s.md, "Status" and "Cancel"): read its
 * BenchmarkJob (for spec.cancel) and patch its status. One list, so the controller's
 * ClusterRole, the manifests and the tests grant exactly what the runner's code uses.
 */
import { GROUP, PLURAL } from './names.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const RUNNER_RULES: readonly PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'patch'] },
];
