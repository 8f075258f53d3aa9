/**
 * The permissions of infermark's two Kubernetes identities, as data with the reason for
 * each rule (docs/k8s.md): the controller (ClusterRole `infermark-controller`, plus a Role
 * on its Lease in its own namespace) and the run pod (ClusterRole `infermark-runner`, bound
 * per namespace by the controller). Least privilege: a verb is here only because a code
 * path named in its reason calls it; the RBAC test compares these with the API server's
 * audit log of a real run.
 */
import type { V1PolicyRule } from '@kubernetes/client-node';
import { GROUP, PLURAL, RUNNER_CLUSTER_ROLE } from './names.js';

/** One RBAC PolicyRule and the code path that needs it. */
export interface ExplainedRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
  /** Which code path uses it (not part of the manifest). */
  reason: string;
}

/** Cluster-wide: the controller watches BenchmarkJobs in every namespace (or one, with --namespace). */
export const CONTROLLER_RULES: readonly ExplainedRule[] = [
  {
    apiGroups: [GROUP],
    resources: [PLURAL],
    verbs: ['get', 'list', 'watch'],
    reason: 'the reconcile loop: watches BenchmarkJobs and reads each one it reconciles',
  },
  {
    apiGroups: [GROUP],
    resources: [PLURAL],
    verbs: ['patch'],
    reason: `adds and removes the finalizer (a merge patch of metadata.finalizers with the resourceVersion read)`,
  },
  {
    apiGroups: [GROUP],
    resources: [`${PLURAL}/status`],
    verbs: ['patch'],
    reason:
      'writes its status fields (state, times, failureMessage, conditions, observedGeneration) by merge patch',
  },
  {
    apiGroups: ['batch'],
    resources: ['jobs'],
    verbs: ['get', 'list', 'watch', 'create', 'delete'],
    reason:
      'creates the run Job and the shard Jobs, watches their progress, deletes them (foreground) on BenchmarkJob deletion',
  },
  {
    apiGroups: [''],
    resources: ['pods'],
    verbs: ['list', 'watch'],
    reason:
      'Pending vs Running from the run pod, and its IP for the shard Jobs (pods go with their Job: no delete)',
  },
  {
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: ['create'],
    reason:
      'the NAME-job ConfigMap with the validated job, made once (the garbage collector deletes it: owner reference)',
  },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['create'],
    reason: "a split run's NAME-coordinator Secret with the coordinator tokens, made once",
  },
  {
    apiGroups: [''],
    resources: ['serviceaccounts'],
    verbs: ['create'],
    reason: 'the infermark-runner ServiceAccount, once per namespace (409: already there)',
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['rolebindings'],
    verbs: ['create'],
    reason: 'the infermark-runner RoleBinding, once per namespace (409: already there)',
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['clusterroles'],
    verbs: ['bind'],
    resourceNames: [RUNNER_CLUSTER_ROLE],
    reason: 'the RoleBinding grants the runner ClusterRole, which the controller does not hold itself',
  },
  {
    apiGroups: [''],
    resources: ['events'],
    verbs: ['create'],
    reason: 'Events for what it did and each state it moved into (kubectl describe)',
  },
  {
    apiGroups: [GROUP],
    resources: ['inferenceservices'],
    verbs: ['get'],
    reason: "endpoint.inferenceService: reads it each reconcile until Ready (where OME's CRD exists)",
  },
];

/** In the controller's own namespace only: leader election. */
export const CONTROLLER_LEASE_RULES: readonly ExplainedRule[] = [
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'create', 'update'],
    reason: 'leader election: the Lease infermark-controller, so only one of two replicas acts',
  },
];

/** The run pod: reads its BenchmarkJob (cancel) and writes its part of the status. */
export const RUNNER_RULES: readonly ExplainedRule[] = [
  {
    apiGroups: [GROUP],
    resources: [PLURAL],
    verbs: ['get'],
    reason: 'the runner reads its BenchmarkJob every few seconds for spec.cancel',
  },
  {
    apiGroups: [GROUP],
    resources: [`${PLURAL}/status`],
    verbs: ['patch'],
    reason: 'the runner writes details, runId, iterations, digest, results and outcome (JSON merge patch)',
  },
];

/** The rules as a Role or ClusterRole takes them (without the reasons). */
export function policyRules(rules: readonly ExplainedRule[]): V1PolicyRule[] {
  return rules.map(({ reason: _reason, ...rule }) => ({ ...rule }));
}
