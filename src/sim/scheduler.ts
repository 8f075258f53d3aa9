/**
 * Deadline scheduler for simulated sequences. Every sequence has an absolute
 * deadline (stream start + ttft + k·itl, in performance.now() ms); one timer (or
 * one setImmediate when work is already due) serves all of them, so timer slack
 * never accumulates along a stream and 512 streams cost one wake-up per tick,
 * not 512 timers. A sequence steps at most once per tick, so zero-delay streams
 * share the event loop fairly with each other and with the sockets.
 */
import { performance } from 'node:perf_hooks';

/** Something with a deadline that the scheduler steps when it is due. */
export interface Scheduled {
  /** Absolute due time on performance.now()'s clock (ms). */
  deadline_ms: number;
  /** Position in the heap; -1 when not scheduled. Owned by the scheduler. */
  heapIndex: number;
  /** Do the due work; return true to be scheduled again at the (updated) deadline. */
  step(now_ms: number): boolean;
}

// Work due within this margin runs now: waking again for a fraction of a millisecond
// would cost a timer round trip (>= 1 ms in Node), i.e. be later than running early.
const EARLY_MS = 0.5;
// Node timers fire late (integer-ms loop time, epoll rounding): typically 0.5-2 ms. The
// scheduler learns that lateness and sets its timer that much early, so work lands on time.
const INITIAL_LATENESS_MS = 1;
const MAX_LATENESS_MS = 4;

/** Min-heap of sequences by deadline, driven by one timer. */
export class DeadlineScheduler {
  private readonly heap: Scheduled[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt_ms = Infinity;
  /** When the pending timer was asked to fire (deadline minus the expected lateness). */
  private timerTarget_ms = 0;
  private lateness_ms = INITIAL_LATENESS_MS;
  private immediate: NodeJS.Immediate | undefined;
  private pumping = false;
  private closed = false;
  private readonly pumpBound = (): void => this.pump();

  /** Number of sequences waiting for their deadline. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedule `item` at its current deadline (no-op when already scheduled). */
  add(item: Scheduled): void {
    if (this.closed || item.heapIndex >= 0) return;
    item.heapIndex = this.heap.length;
    this.heap.push(item);
    this.siftUp(item.heapIndex);
    if (!this.pumping) this.arm();
  }

  /** Unschedule `item` (no-op when not scheduled). */
  remove(item: Scheduled): void {
    const index = item.heapIndex;
    if (index < 0) return;
    item.heapIndex = -1;
    const last = this.heap.pop() as Scheduled;
    if (index < this.heap.length) {
      this.heap[index] = last;
      last.heapIndex = index;
      this.siftDown(index);
      this.siftUp(last.heapIndex);
    }
  }

  /** Stop all timers; nothing is stepped afterwards. */
  close(): void {
    this.closed = true;
    for (const item of this.heap) item.heapIndex = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private pump(): void {
    const now_ms = performance.now();
    if (this.timer) {
      // Moving average of how late timers fire here, so the next one is set that much early.
      const late_ms = now_ms - this.timerTarget_ms;
      this.lateness_ms = Math.min(MAX_LATENESS_MS, Math.max(0, this.lateness_ms * 0.9 + late_ms * 0.1));
    }
    this.timer = undefined;
    this.timerAt_ms = Infinity;
    this.immediate = undefined;
    if (this.closed) return;
    const due: Scheduled[] = [];
    // Pop everything due first, step after: a zero-delay sequence that stays due
    // must wait for the next tick rather than starve the loop.
    while (this.heap.length > 0 && (this.heap[0] as Scheduled).deadline_ms <= now_ms + EARLY_MS) {
      const top = this.heap[0] as Scheduled;
      this.remove(top);
      due.push(top);
    }
    this.pumping = true;
    try {
      for (const item of due) {
        if (item.step(now_ms)) this.add(item);
      }
    } finally {
      this.pumping = false;
    }
    this.arm();
  }

  private arm(): void {
    if (this.closed || this.heap.length === 0) {
      this.disarm();
      return;
    }
    const next_ms = (this.heap[0] as Scheduled).deadline_ms;
    const delay_ms = next_ms - performance.now();
    if (delay_ms <= EARLY_MS) {
      if (this.timer) this.clearTimer();
      if (!this.immediate) this.immediate = setImmediate(this.pumpBound);
      return;
    }
    if (this.immediate) return; // a pump is already coming this tick and will re-arm
    if (this.timer && this.timerAt_ms <= next_ms) return;
    if (this.timer) this.clearTimer();
    this.timerAt_ms = next_ms;
    const wait_ms = Math.max(1, delay_ms - this.lateness_ms);
    this.timerTarget_ms = performance.now() + wait_ms;
    this.timer = setTimeout(this.pumpBound, wait_ms);
  }

  private disarm(): void {
    if (this.timer) this.clearTimer();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt_ms = Infinity;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const item = heap[index] as Scheduled;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Scheduled;
      if (parent.deadline_ms <= item.deadline_ms) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[index] as Scheduled;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && (heap[right] as Scheduled).deadline_ms < (heap[left] as Scheduled).deadline_ms) {
        child = right;
      }
      const childItem = heap[child] as Scheduled;
      if (childItem.deadline_ms >= item.deadline_ms) break;
      heap[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}
