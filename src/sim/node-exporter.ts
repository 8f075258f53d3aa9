/**
 * The simulated node-exporter of each node: CPU seconds by cpu and mode (idle, user,
 * system) growing with real time, the user share following the node's load (a busy batch
 * and host-side preprocessing), the one-minute load average, and the uname info that
 * names the host.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import type { SimNode } from './node.js';
import { registerFamily, type Series } from './prom-family.js';

/** CPUs each simulated host has. */
export const NODE_CPUS = 8;

// Per CPU: a little background work, the engine loop while the batch is busy, and the
// preprocessing that a CPU-throttled host spends its time on.
const BACKGROUND_USER_SHARE = 0.02;
const BUSY_USER_SHARE = 0.3;
const PREPROCESSING_USER_SHARE = 0.6;
const BACKGROUND_SYSTEM_SHARE = 0.01;
const BUSY_SYSTEM_SHARE = 0.05;

/** CPU seconds per mode of one CPU of `node` so far. */
export function cpuSeconds(node: SimNode, now_ms: number): { idle: number; user: number; system: number } {
  const load = node.load.read(now_ms);
  const user =
    BACKGROUND_USER_SHARE * load.elapsed_s +
    BUSY_USER_SHARE * load.busy_s +
    PREPROCESSING_USER_SHARE * load.preprocessing_s;
  const system = BACKGROUND_SYSTEM_SHARE * load.elapsed_s + BUSY_SYSTEM_SHARE * load.busy_s;
  return { idle: Math.max(0, load.elapsed_s - user - system), user, system };
}

/** `node`'s node-exporter registry. */
export function createNodeExporterRegistry(node: SimNode): Registry {
  const registry = new Registry();
  registerFamily(
    registry,
    'counter',
    'node_cpu_seconds_total',
    'Seconds the CPUs spent in each mode.',
    ['cpu', 'mode'],
    () => {
      const seconds = cpuSeconds(node, performance.now());
      const series: Series[] = [];
      for (let cpu = 0; cpu < NODE_CPUS; cpu++) {
        for (const mode of ['idle', 'system', 'user'] as const) {
          series.push([{ cpu: String(cpu), mode }, seconds[mode]]);
        }
      }
      return series;
    },
  );
  registerFamily(registry, 'gauge', 'node_load1', '1m load average.', [], () => [
    [{}, Math.round(node.load.read(performance.now()).load1 * 100) / 100],
  ]);
  registerFamily(
    registry,
    'gauge',
    'node_uname_info',
    'Labeled system information as provided by the uname system call.',
    ['domainname', 'machine', 'nodename', 'release', 'sysname', 'version'],
    () => [
      [
        {
          domainname: '(none)',
          machine: 'x86_64',
          nodename: node.name,
          release: '6.8.0-infermark-sim',
          sysname: 'Linux',
          version: '#1 SMP infermark-sim',
        },
        1,
      ],
    ],
  );
  return registry;
}
