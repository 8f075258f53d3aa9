/**
 * One 'abort' listener per signal, fanned out to the requests in flight on it.
 *
 * Why: the engine gives every request of an iteration the same signal. Node's
 * EventTarget keeps listeners in a list that addEventListener (duplicate check)
 * and removeEventListener walk, so a listener per request costs O(in flight)
 * per request: 0.34 µs per add+remove at 1 listener, 1.6 µs at 512 (measured on
 * Node 20), and it keeps growing with concurrency. A Set per signal is O(1).
 */

/** Something to call when the shared signal aborts. */
export type OnAbort = () => void;

export class AbortFanout {
  private readonly members = new WeakMap<AbortSignal, Set<OnAbort>>();

  /**
   * Call `onAbort` once when `signal` aborts, unless `leave()` runs first.
   * Returns `leave`. An already aborted signal is the caller's to check.
   */
  join(signal: AbortSignal, onAbort: OnAbort): () => void {
    const set = this.members.get(signal) ?? this.listen(signal);
    set.add(onAbort);
    return () => {
      set.delete(onAbort);
    };
  }

  /** The set for a signal seen first: its one listener calls every member once. */
  private listen(signal: AbortSignal): Set<OnAbort> {
    const set = new Set<OnAbort>();
    this.members.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        // Copy first: an aborted request leaves the set while it settles.
        const callbacks = [...set];
        set.clear();
        for (const callback of callbacks) callback();
      },
      { once: true },
    );
    return set;
  }

  /** Callbacks waiting on `signal` (for tests). */
  size(signal: AbortSignal): number {
    return this.members.get(signal)?.size ?? 0;
  }
}
