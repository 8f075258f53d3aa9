/**
 * The one module that reads the clock. Times are integer microseconds on a
 * monotonic clock; one wall-clock anchor per run converts them for humans.
 */
import { performance } from 'node:perf_hooks';

/** Monotonic time in integer microseconds. */
export function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

/** Pairs a monotonic reading with the wall clock, taken once per run. */
export interface WallAnchor {
  wall_ms: number;
  mono_us: number;
}

export function takeAnchor(): WallAnchor {
  return { wall_ms: Date.now(), mono_us: nowUs() };
}

/** ISO-8601 wall time of a monotonic stamp. */
export function wallIso(anchor: WallAnchor, monoUs: number): string {
  return new Date(anchor.wall_ms + (monoUs - anchor.mono_us) / 1000).toISOString();
}

/** Resolve after `us` microseconds (timer resolution is ~1 ms; callers re-check the clock). */
export function sleepUs(us: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (us <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, us / 1000);
    function done(): void {
      signal?.removeEventListener('abort', done);
      clearTimeout(timer);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
