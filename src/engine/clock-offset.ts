/**
 * A shard's clock offset from the coordinator's, as NTP measures it: the coordinator
 * sends at t0, the shard receives at t1 and answers at t2 (its clock), the answer arrives
 * at t3. Each round trip gives an offset and a delay; the round trip with the least delay
 * is the one least disturbed by queueing, and half its delay bounds the offset's error.
 */

export interface RoundTrip {
  /** Coordinator's clock when it sent the request (µs). */
  t0_us: number;
  /** Shard's clock when it received it (µs). */
  t1_us: number;
  /** Shard's clock when it answered (µs). */
  t2_us: number;
  /** Coordinator's clock when the answer arrived (µs). */
  t3_us: number;
}

export interface ClockOffset {
  /** The shard's clock minus the coordinator's (µs): subtract it from a shard time. */
  offset_us: number;
  /** Network time of the round trip used, the shard's own work excluded (µs). */
  delay_us: number;
  /** The offset is within ± this of the truth, if the two legs' delays are anything from 0 to all of it. */
  error_bound_us: number;
  /** Round trips measured. */
  samples: number;
}

/** The offset from the round trip with the least delay; throws on none or an impossible one. */
export function estimateClockOffset(trips: readonly RoundTrip[]): ClockOffset {
  if (trips.length === 0) throw new RangeError('estimateClockOffset: no round trips');
  let best: { offset_us: number; delay_us: number } | null = null;
  for (const t of trips) {
    if (t.t3_us < t.t0_us || t.t2_us < t.t1_us)
      throw new RangeError(`estimateClockOffset: a round trip ends before it starts (${JSON.stringify(t)})`);
    const delay_us = t.t3_us - t.t0_us - (t.t2_us - t.t1_us);
    const offset_us = (t.t1_us - t.t0_us + (t.t2_us - t.t3_us)) / 2;
    if (best === null || delay_us < best.delay_us) best = { offset_us, delay_us: Math.max(0, delay_us) };
  }
  const { offset_us, delay_us } = best!;
  return { offset_us, delay_us, error_bound_us: delay_us / 2, samples: trips.length };
}
