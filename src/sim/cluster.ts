/**
 * The simulated cluster's cAdvisor and kube-state-metrics families: one pod per node
 * (`sim-pod-<i>` in namespace `default`, container `server`), its CFS periods (100 ms each,
 * throttled while host-side preprocessing is under way), its restarts and the node it runs on.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import type { SimNode } from './node.js';
import { registerFamily } from './prom-family.js';

export const CLUSTER_NAMESPACE = 'default';
export const CLUSTER_CONTAINER = 'server';
/** The CFS scheduler's default period. */
export const CFS_PERIOD_MS = 100;

/** CFS periods elapsed and throttled for `node`'s container so far. */
export function cfsPeriods(node: SimNode, now_ms: number): { periods: number; throttled: number } {
  const load = node.load.read(now_ms);
  return {
    periods: Math.floor((load.elapsed_s * 1000) / CFS_PERIOD_MS),
    throttled: Math.floor((load.preprocessing_s * 1000) / CFS_PERIOD_MS),
  };
}

/** The cluster registry over all `nodes`' pods. */
export function createClusterRegistry(nodes: readonly SimNode[]): Registry {
  const registry = new Registry();
  const container = (node: SimNode): Record<string, string> => ({
    namespace: CLUSTER_NAMESPACE,
    pod: node.pod,
    container: CLUSTER_CONTAINER,
  });
  const containerLabels = ['namespace', 'pod', 'container'];
  registerFamily(
    registry,
    'counter',
    'container_cpu_cfs_periods_total',
    'Number of elapsed enforcement period intervals.',
    containerLabels,
    () => nodes.map((node) => [container(node), cfsPeriods(node, performance.now()).periods]),
  );
  registerFamily(
    registry,
    'counter',
    'container_cpu_cfs_throttled_periods_total',
    'Number of throttled period intervals.',
    containerLabels,
    () => nodes.map((node) => [container(node), cfsPeriods(node, performance.now()).throttled]),
  );
  registerFamily(
    registry,
    'counter',
    'kube_pod_container_status_restarts_total',
    'The number of container restarts per container.',
    containerLabels,
    () => nodes.map((node) => [container(node), node.restarts]),
  );
  registerFamily(
    registry,
    'gauge',
    'kube_pod_info',
    'Information about pod.',
    ['namespace', 'pod', 'node'],
    () => nodes.map((node) => [{ namespace: CLUSTER_NAMESPACE, pod: node.pod, node: node.name }, 1]),
  );
  return registry;
}
