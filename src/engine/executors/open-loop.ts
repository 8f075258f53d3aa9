/**
 * Open-loop dispatch shared by the rate and trace executors: each arrival is
 * scheduled from the iteration's start (never from a previous response); an
 * arrival finding `max_in_flight` requests outstanding is dropped and counted.
 */
import { nowUs, sleepUs } from '../../base/clock.js';
import { segmentSchedule } from '../../plan/segments.js';
import type { Dispatcher } from '../dispatcher.js';

/** Timer wake-ups are ~1 ms coarse; sleep until this close, then yield until the target. */
const SPIN_WINDOW_US = 1_500;

/**
 * Runs arrivals at `start + nextOffsetUs()` until the dispatcher stops or the
 * offsets run out (`null`: the trace ended).
 */
export async function runOpenLoop(dispatcher: Dispatcher, schedule: () => number | null): Promise<void> {
  // A shard draws the whole schedule and keeps its own arrivals (plan/segments.ts).
  const nextOffsetUs = segmentSchedule(dispatcher.segment, schedule, (j, offsetUs) =>
    dispatcher.arrivalDrawn(j, offsetUs),
  );
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
    if (dispatcher.inFlight >= dispatcher.maxInFlight) {
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
  const remainingUs = targetUs - nowUs();
  // The sleep removes its own abort listener, so nothing accumulates per arrival.
  if (remainingUs > SPIN_WINDOW_US) await sleepUs(remainingUs - SPIN_WINDOW_US, dispatcher.stopSignal);
  // Yield to I/O while closing the last stretch, so responses keep flowing. One promise per
  // wait, not one per turn of the loop: a promise per setImmediate made enough garbage for
  // scavenges of several ms every ~0.5 s, which showed up as client-queue time.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (dispatcher.stopped || targetUs - nowUs() <= 0) resolve();
      else setImmediate(check);
    };
    check();
  });
}
