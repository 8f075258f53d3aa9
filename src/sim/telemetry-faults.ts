/**
 * Faults that are a node's state rather than a per-request draw: a GPU clock held down
 * (`throttle`, on every node) and one straggler node (`slowNode`). Each is one entry of
 * a table: whether it applies to a node, how much slower that node's prefill and decode
 * run, and what its GPUs show for it (SM clock, temperature, clock-throttle reasons,
 * PCIe replays). A node's condition is every entry that applies, combined. The restart
 * and the CPU throttle are events and delays, not a state: node.ts carries them out.
 */
import type { SimulatorOptions } from './options.js';

/** DCGM's clock-throttle (clocks-event) reason bits. */
export const THROTTLE_REASON = {
  swThermalSlowdown: 0x20,
  hwSlowdown: 0x8,
  hwThermalSlowdown: 0x40,
} as const;

/** Nominal SM clock of the simulated GPU (MHz, an H100 SXM's boost clock). */
export const NOMINAL_SM_CLOCK_MHZ = 1980;

export interface NodeFault {
  applies(options: SimulatorOptions, nodeIndex: number): boolean;
  /** Multiplies the node's prefill and decode times. */
  slowdown(options: SimulatorOptions): number;
  /** Share of the nominal SM clock the node's GPUs keep. */
  clockShare(options: SimulatorOptions): number;
  /** The GPUs are at least this hot while it applies. */
  minTemperature_C: number;
  throttleReasons: number;
  /** PCIe replays per second of the simulator's life (a flaky link). */
  pcieReplaysPerS: number;
}

const NODE_FAULT_TABLE = {
  throttle: {
    applies: (o) => o.throttle < 1,
    slowdown: (o) => 1 / o.throttle,
    clockShare: (o) => o.throttle,
    minTemperature_C: 87,
    throttleReasons: THROTTLE_REASON.hwSlowdown | THROTTLE_REASON.hwThermalSlowdown,
    pcieReplaysPerS: 0,
  },
  slowNode: {
    applies: (o, index) => o.slowNode === index,
    slowdown: (o) => o.slowNodeFactor,
    clockShare: (o) => 1 / o.slowNodeFactor,
    minTemperature_C: 79,
    throttleReasons: THROTTLE_REASON.swThermalSlowdown,
    pcieReplaysPerS: 2,
  },
} as const satisfies Record<string, NodeFault>;

export type NodeFaultKind = keyof typeof NODE_FAULT_TABLE;

export const NODE_FAULTS: Readonly<Record<NodeFaultKind, NodeFault>> = NODE_FAULT_TABLE;

/** What a node's faults add up to. */
export interface NodeCondition {
  /** Which node faults apply. */
  faults: NodeFaultKind[];
  /** Multiplies prefill and decode times (1: a healthy node). */
  slowdown: number;
  sm_clock_MHz: number;
  /** Floor of the GPU temperature (0: none). */
  minTemperature_C: number;
  throttleReasons: number;
  pcieReplaysPerS: number;
}

/** Node `index`'s condition under `options`. */
export function nodeCondition(options: SimulatorOptions, index: number): NodeCondition {
  const condition: NodeCondition = {
    faults: [],
    slowdown: 1,
    sm_clock_MHz: NOMINAL_SM_CLOCK_MHZ,
    minTemperature_C: 0,
    throttleReasons: 0,
    pcieReplaysPerS: 0,
  };
  let clockShare = 1;
  for (const [kind, fault] of Object.entries(NODE_FAULTS) as [NodeFaultKind, NodeFault][]) {
    if (!fault.applies(options, index)) continue;
    condition.faults.push(kind);
    condition.slowdown *= fault.slowdown(options);
    clockShare *= fault.clockShare(options);
    condition.minTemperature_C = Math.max(condition.minTemperature_C, fault.minTemperature_C);
    condition.throttleReasons |= fault.throttleReasons;
    condition.pcieReplaysPerS += fault.pcieReplaysPerS;
  }
  condition.sm_clock_MHz = Math.round(NOMINAL_SM_CLOCK_MHZ * clockShare);
  return condition;
}
