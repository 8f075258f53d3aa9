/**
 * One simulated serving replica, `sim-node-<i>`: its own batch of `capacity` sequences,
 * its counters and vLLM registry, a latency model stretched by its condition (throttled
 * or straggling GPUs), its GPUs' identities and a load meter for its telemetry. It
 * carries out the faults that happen to a node over time: host-side preprocessing
 * before a request reaches the batch (`cpuThrottleMs`) and an engine restart (the batch
 * held for the downtime, the metrics from zero).
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Batch, type BatchMember } from './batch.js';
import { noFaults } from './faults.js';
import type { SocketCloser } from './http-io.js';
import { LatencyModel } from './latency-model.js';
import { LoadMeter } from './load-meter.js';
import { PrefixCache } from './prefix-cache.js';
import {
  createSimMetrics,
  teeObservers,
  type SimCounters,
  type SimMetrics,
  type SimObserver,
} from './metrics.js';
import type { SimulatorOptions } from './options.js';
import type { DeadlineScheduler } from './scheduler.js';
import type { StreamHost } from './stream-writer.js';
import { nodeCondition, type NodeCondition } from './telemetry-faults.js';

/** The response header naming the node that served a request. */
export const NODE_HEADER = 'x-infermark-sim-node';

/** Node `index`'s name (its hostname in the telemetry). */
export function nodeName(index: number): string {
  return `sim-node-${index}`;
}

/** Node `index`'s pod in the cluster telemetry. */
export function podName(index: number): string {
  return `sim-pod-${index}`;
}

/** One GPU as dcgm-exporter labels it. */
export interface GpuIdentity {
  index: number;
  uuid: string;
  device: string;
  pciBusId: string;
}

// The PCI buses of an HGX H100's eight GPUs.
const PCI_BUSES = ['18', '2A', '3A', '5D', '9A', 'AB', 'BA', 'DB'];

/** GPU `gpu` of node `node`: a UUID derived from the seed, so the same options name the same GPUs. */
export function gpuIdentity(seed: number, node: number, gpu: number): GpuIdentity {
  const hex = createHash('sha256').update(`infermark-sim-gpu:${seed}:${node}:${gpu}`).digest('hex');
  const uuid = `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  const bus = PCI_BUSES[gpu] ?? (0x18 + gpu * 0x10).toString(16).toUpperCase();
  return { index: gpu, uuid, device: `nvidia${gpu}`, pciBusId: `00000000:${bus}:00.0` };
}

/** What a node needs from the simulator that runs it. */
export interface NodeHost {
  readonly options: SimulatorOptions;
  readonly scheduler: DeadlineScheduler;
  readonly closer: SocketCloser;
  readonly eventsPerWrite: number;
  /** The whole server's metrics: every node's observations land there too. */
  readonly serverMetrics: SimObserver;
  responseId(): string;
  /** A node's running or waiting count changed. */
  nodeChanged(): void;
}

/** A request as a node sees it: a batch member that knows when it reached the batch. */
export interface NodeMember extends BatchMember {
  /** When it reached the batch (after any host-side preprocessing), performance.now() ms. */
  enqueued_ms: number;
}

export class SimNode implements StreamHost {
  readonly index: number;
  readonly name: string;
  readonly pod: string;
  readonly options: SimulatorOptions;
  readonly scheduler: DeadlineScheduler;
  readonly closer: SocketCloser;
  readonly eventsPerWrite: number;
  readonly counters: SimCounters;
  /** This node's own registry (served at /sim/nodes/<name>/metrics). */
  readonly nodeMetrics: SimMetrics;
  /** The node's and the whole server's observations. */
  readonly metrics: SimObserver;
  readonly latency: LatencyModel;
  readonly batch: Batch;
  readonly condition: NodeCondition;
  readonly load: LoadMeter;
  readonly gpus: readonly GpuIdentity[];
  /** Its prefix cache; null when `prefixCacheBlocks` is 0. */
  readonly prefixCache: PrefixCache | null;
  /** Requests routed here. */
  requests = 0;
  restarts = 0;
  /** Requests in host-side preprocessing now. */
  preprocessing = 0;

  private readonly host: NodeHost;
  private downTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(host: NodeHost, index: number) {
    const options = host.options;
    this.host = host;
    this.index = index;
    this.name = nodeName(index);
    this.pod = podName(index);
    this.options = options;
    this.scheduler = host.scheduler;
    this.closer = host.closer;
    this.eventsPerWrite = host.eventsPerWrite;
    this.counters = {
      running: 0,
      waiting: 0,
      promptTokens: 0,
      generationTokens: 0,
      prefixHitTokens: 0,
      successStop: 0,
      successLength: 0,
      capacity: options.capacity,
      injected: noFaults(),
    };
    this.nodeMetrics = createSimMetrics(options.model, () => this.counters);
    this.metrics = teeObservers(this.nodeMetrics, host.serverMetrics);
    this.condition = nodeCondition(options, index);
    this.latency = new LatencyModel(options, this.condition.slowdown);
    this.load = new LoadMeter(options.capacity, performance.now());
    this.batch = new Batch(this.counters, options.capacity, () => this.changed());
    this.prefixCache = options.prefixCacheBlocks > 0 ? new PrefixCache(options.prefixCacheBlocks) : null;
    this.gpus = Array.from({ length: options.gpusPerNode }, (_, gpu) =>
      gpuIdentity(options.seed, index, gpu),
    );
  }

  responseId(): string {
    return this.host.responseId();
  }

  /** An accepted request: into the batch now, or after its host-side preprocessing. */
  enter(seq: NodeMember, arrived_ms: number): void {
    const delay_ms = this.options.cpuThrottleMs;
    if (delay_ms === 0) {
      seq.enqueued_ms = arrived_ms;
      this.batch.admit(seq, arrived_ms);
      return;
    }
    this.preprocessing++;
    this.changed();
    this.scheduler.add({
      deadline_ms: performance.now() + delay_ms,
      heapIndex: -1,
      step: (now_ms: number): boolean => {
        this.preprocessing--;
        if (seq.state === 'new') {
          seq.enqueued_ms = now_ms;
          this.batch.admit(seq, now_ms);
        } else {
          this.changed();
        }
        return false;
      },
    });
  }

  /**
   * The engine restarts now (a new process from `now_s`, Unix seconds): its metrics start from
   * zero, running sequences finish, and nothing starts for `restartDowntimeMs` (a cold start).
   */
  restart(now_s: number): void {
    if (this.closed) return;
    this.restarts++;
    this.nodeMetrics.restart(now_s);
    this.prefixCache?.clear();
    this.batch.hold();
    this.downTimer = setTimeout(() => {
      this.downTimer = undefined;
      this.batch.resume();
    }, this.options.restartDowntimeMs);
  }

  /** Whether the engine is restarting (serving nothing) now. */
  get restarting(): boolean {
    return this.downTimer !== undefined;
  }

  close(): void {
    this.closed = true;
    if (this.downTimer) clearTimeout(this.downTimer);
    this.downTimer = undefined;
    this.batch.close();
  }

  private changed(): void {
    this.load.set(performance.now(), this.counters.running, this.preprocessing);
    this.host.nodeChanged();
  }
}
