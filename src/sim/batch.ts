/**
 * Admission control, the simulated "batch": up to `capacity` sequences run at once, the
 * rest wait in arrival order and start as running ones leave. The counts live in the
 * shared counters that /metrics and `stats()` read. A restarting engine holds the batch:
 * nothing starts until it resumes, and what arrives meanwhile waits.
 */
import { performance } from 'node:perf_hooks';
import type { SimCounters } from './metrics.js';

/** A request as the batch sees it. */
export interface BatchMember {
  state: 'new' | 'waiting' | 'running' | 'done';
  /** Admitted into the batch at `now_ms`: its TTFT clock starts. */
  begin(now_ms: number): void;
}

/** How a sequence left the batch or the queue. */
export type Departure = 'completed' | 'cancelled' | 'faulted';

export class Batch {
  completed = 0;
  cancelled = 0;
  peakRunning = 0;
  peakWaiting = 0;

  private readonly queue: BatchMember[] = [];
  private queueHead = 0;
  private readonly live = new Set<BatchMember>();
  private closed = false;
  private held = false;

  /** `changed` is told after every change of the running or waiting count. */
  constructor(
    private readonly counters: SimCounters,
    private readonly capacity: number,
    private readonly changed: () => void = () => {},
  ) {}

  /** Into the batch at once (its clock starting at arrival) or into the queue. */
  admit(seq: BatchMember, arrived_ms: number): void {
    this.live.add(seq);
    if (!this.held && this.counters.running < this.capacity) {
      this.start(seq, arrived_ms);
    } else {
      seq.state = 'waiting';
      this.queue.push(seq);
      this.counters.waiting++;
      if (this.counters.waiting > this.peakWaiting) this.peakWaiting = this.counters.waiting;
    }
    this.changed();
  }

  /** Start nothing until `resume` (running sequences go on). */
  hold(): void {
    this.held = true;
  }

  /** Start the queue's head again, as far as capacity allows. */
  resume(): void {
    this.held = false;
    if (this.closed) return;
    this.startWaiting(performance.now());
    this.changed();
  }

  /** A sequence left the batch or the queue (finished, failed or cancelled). */
  release(seq: BatchMember, how: Departure): void {
    this.live.delete(seq);
    if (how === 'completed') this.completed++;
    else if (how === 'cancelled') this.cancelled++;
    if (seq.state === 'new') {
      // Went away before it reached the batch (in host-side preprocessing).
      seq.state = 'done';
      return;
    }
    if (seq.state === 'waiting') {
      // Left the queue before admission; it is skipped when reached.
      this.counters.waiting--;
      seq.state = 'done';
      this.changed();
      return;
    }
    seq.state = 'done';
    this.counters.running--;
    if (!this.closed && !this.held) this.startWaiting(performance.now());
    this.changed();
  }

  private startWaiting(now_ms: number): void {
    while (this.counters.running < this.capacity && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead++] as BatchMember;
      if (next.state !== 'waiting') continue;
      this.counters.waiting--;
      this.start(next, now_ms);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Everything ends: nothing in it is stepped or started again. */
  close(): void {
    this.closed = true;
    for (const seq of this.live) seq.state = 'done';
    this.live.clear();
    this.queue.length = 0;
    this.queueHead = 0;
  }

  private start(seq: BatchMember, now_ms: number): void {
    this.counters.running++;
    if (this.counters.running > this.peakRunning) this.peakRunning = this.counters.running;
    seq.begin(now_ms);
  }
}
