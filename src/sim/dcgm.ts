/**
 * The simulated dcgm-exporter: each node's GPUs with dcgm-exporter's family names and
 * label set (`gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `Hostname`,
 * `DCGM_FI_DRIVER_VERSION`). The values follow the node: utilisation is its batch's
 * smoothed occupancy, memory grows with its KV-cache use, power with utilisation and
 * clock, and its condition (telemetry-faults.ts) sets the clock, the temperature floor,
 * the throttle reasons and the PCIe replays.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import type { GpuIdentity, SimNode } from './node.js';
import { registerFamily, type Series } from './prom-family.js';
import { NOMINAL_SM_CLOCK_MHZ } from './telemetry-faults.js';

/** One GPU's values at one moment. */
export interface GpuReading {
  utilization_pct: number;
  sm_clock_MHz: number;
  power_W: number;
  temperature_C: number;
  fb_used_MiB: number;
  fb_free_MiB: number;
  xid: number;
  throttleReasons: number;
  pcieReplays: number;
}

const IDLE_POWER_W = 70;
const MAX_POWER_W = 700;
const IDLE_TEMPERATURE_C = 36;
const LOADED_TEMPERATURE_RISE_C = 30;
// Weights and runtime take a quarter of the framebuffer; the KV-cache pool grows into the next 65 percent.
const STATIC_FB_SHARE = 0.25;
const KV_FB_SHARE = 0.65;
const DEFAULT_FB_MiB = 81_559;

/** Framebuffer size from a model name's `<n>GB` (an H100 80GB shows 81559 MiB). */
export function framebufferOf(gpuModel: string): number {
  const match = /(\d+)\s*GB/i.exec(gpuModel);
  const gb = match ? Number(match[1]) : 0;
  return gb > 0 ? gb * 1024 - 361 : DEFAULT_FB_MiB;
}

/** What `node`'s GPUs show at `now_ms` (performance.now()); every GPU of a replica works alike. */
export function readGpu(node: SimNode, now_ms: number): GpuReading {
  const load = node.load.read(now_ms);
  const { condition } = node;
  const total = framebufferOf(node.options.gpuModel);
  const kv = Math.min(1, node.counters.running / node.counters.capacity);
  const used = Math.round(total * (STATIC_FB_SHARE + KV_FB_SHARE * kv));
  const clockShare = condition.sm_clock_MHz / NOMINAL_SM_CLOCK_MHZ;
  // Dynamic power goes with frequency × voltage²: a held-down clock does the same work for less energy.
  const power = IDLE_POWER_W + (MAX_POWER_W - IDLE_POWER_W) * load.utilization * clockShare * clockShare;
  return {
    utilization_pct: Math.round(100 * load.utilization),
    sm_clock_MHz: condition.sm_clock_MHz,
    power_W: Math.round(power * 1000) / 1000,
    temperature_C: Math.round(
      Math.max(condition.minTemperature_C, IDLE_TEMPERATURE_C + LOADED_TEMPERATURE_RISE_C * load.utilization),
    ),
    fb_used_MiB: used,
    fb_free_MiB: total - used,
    xid: 0,
    throttleReasons: condition.throttleReasons,
    pcieReplays: Math.ceil(load.elapsed_s * condition.pcieReplaysPerS),
  };
}

const LABEL_NAMES = [
  'gpu',
  'UUID',
  'pci_bus_id',
  'device',
  'modelName',
  'Hostname',
  'DCGM_FI_DRIVER_VERSION',
] as const;

function labelsOf(node: SimNode, gpu: GpuIdentity): Record<string, string> {
  return {
    gpu: String(gpu.index),
    UUID: gpu.uuid,
    pci_bus_id: gpu.pciBusId,
    device: gpu.device,
    modelName: node.options.gpuModel,
    Hostname: node.name,
    DCGM_FI_DRIVER_VERSION: node.options.driverVersion,
  };
}

const FAMILIES: readonly [
  type: 'gauge' | 'counter',
  name: string,
  help: string,
  value: (r: GpuReading) => number,
][] = [
  ['gauge', 'DCGM_FI_DEV_SM_CLOCK', 'SM clock frequency (in MHz).', (r) => r.sm_clock_MHz],
  ['gauge', 'DCGM_FI_DEV_GPU_TEMP', 'GPU temperature (in C).', (r) => r.temperature_C],
  ['gauge', 'DCGM_FI_DEV_POWER_USAGE', 'Power draw (in W).', (r) => r.power_W],
  ['counter', 'DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'Total number of PCIe retries.', (r) => r.pcieReplays],
  ['gauge', 'DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).', (r) => r.utilization_pct],
  ['gauge', 'DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).', (r) => r.fb_free_MiB],
  ['gauge', 'DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).', (r) => r.fb_used_MiB],
  ['gauge', 'DCGM_FI_DEV_XID_ERRORS', 'Value of the last XID error encountered.', (r) => r.xid],
  [
    'gauge',
    'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS',
    'Current clock throttle reasons (bitmask).',
    (r) => r.throttleReasons,
  ],
];

/** A dcgm-exporter registry over `nodes`' GPUs (one node's, or all of them). */
export function createDcgmRegistry(nodes: readonly SimNode[]): Registry {
  const registry = new Registry();
  // One reading per node per scrape, shared by the families (they are collected in one go).
  let readings: { node: SimNode; reading: GpuReading }[] = [];
  let readAt_ms = -Infinity;
  const current = (): typeof readings => {
    const now_ms = performance.now();
    if (now_ms - readAt_ms > 5) {
      readings = nodes.map((node) => ({ node, reading: readGpu(node, now_ms) }));
      readAt_ms = now_ms;
    }
    return readings;
  };
  for (const [type, name, help, value] of FAMILIES) {
    registerFamily(registry, type, name, help, LABEL_NAMES, () =>
      current().flatMap(({ node, reading }) =>
        node.gpus.map((gpu): Series => [labelsOf(node, gpu), value(reading)]),
      ),
    );
  }
  return registry;
}
