/**
 * Open-loop dispatch shared by the rate and trace executors: each arrival is
 * scheduled from the iteration's start (never from a previous response); an
 * arrival finding `max_in_flight` requests outstanding is dropped and counted.
 */
import { nowUs, sleepUs } from '../clock.js';
import type { Dispatcher } from '../dispatcher.js';

/** Timer wake-ups are ~1 ms coarse; sleep until this close, then yield until the target. */
const SPIN_WINDOW_US = 1_500;

/**
 * Runs arrivals at `start + nextOffsetUs()` until the dispatcher stops or the
 * offsets run out (`null`: the trace ended).
 */
export async function runOpenLoop(dispatcher: Dispatcher, nextOffsetUs: () => number | null): Promise<void> {
  const pending = new Set<Promise<void>>();
  for (;;) {
    const offsetUs = nextOffsetUs();
    if (offsetUs === null) {
      dispatcher.end('trace_end');
      break;
    }
    const targetUs = dispatcher.startUs + offsetUs;
    await waitUntil(targetUs, dispatcher);
    if (dispatcher.stopped) break;
    const claim = dispatcher.claim(targetUs);
    if (!claim) break;
    if (dispatcher.inFlight >= dispatcher.plan.max_in_flight) {
      dispatcher.dropped++;
      continue;
    }
    const sent = dispatcher.send(claim, targetUs);
    pending.add(sent);
    void sent.then(() => pending.delete(sent));
  }
  await Promise.all(pending);
}

async function waitUntil(targetUs: number, dispatcher: Dispatcher): Promise<void> {
  const stopped = dispatcher.whenStopped();
  let remainingUs = targetUs - nowUs();
  if (remainingUs > SPIN_WINDOW_US) {
    const signal = dispatcher.cancelSignal;
    await Promise.race([sleepUs(remainingUs - SPIN_WINDOW_US, signal), stopped]);
  }
  // Yield to I/O while closing the last stretch, so responses keep flowing.
  while (!dispatcher.stopped && (remainingUs = targetUs - nowUs()) > 0) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
