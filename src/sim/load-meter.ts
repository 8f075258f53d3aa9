/**
 * A node's load over time, for its GPU, host and cluster telemetry: the share of the
 * batch in use and the requests in host-side preprocessing, integrated over real time
 * (busy seconds, seconds with preprocessing under way) and smoothed (a GPU-utilisation
 * average over about a second, a one-minute load average). The batch reports each
 * change; readings between changes extend the current levels to the time of reading.
 */

// A GPU exporter samples utilisation over about a second; Linux's load1 decays over a minute.
const UTILIZATION_TAU_MS = 1000;
const LOAD1_TAU_MS = 60_000;

export interface LoadReading {
  /** Since the meter started. */
  elapsed_s: number;
  /** ∫ min(1, running / capacity) dt: seconds of a full batch's worth of work. */
  busy_s: number;
  /** Seconds during which at least one request was in host-side preprocessing. */
  preprocessing_s: number;
  /** Smoothed min(1, running / capacity), 0..1. */
  utilization: number;
  /** Smoothed runnable tasks: the engine loop while it has work, plus each request in preprocessing. */
  load1: number;
}

export class LoadMeter {
  private last_ms: number;
  private readonly start_ms: number;
  private share = 0;
  private runnable = 0;
  private preprocessing = false;
  private busy_ms = 0;
  private preprocessing_ms = 0;
  private utilization = 0;
  private load1 = 0;

  constructor(
    private readonly capacity: number,
    now_ms: number,
  ) {
    this.start_ms = this.last_ms = now_ms;
  }

  /** The levels changed at `now_ms`: `running` sequences in the batch, `preprocessing` requests before it. */
  set(now_ms: number, running: number, preprocessing: number): void {
    this.advance(now_ms);
    this.share = Math.min(1, running / this.capacity);
    this.runnable = (running > 0 ? 1 : 0) + preprocessing;
    this.preprocessing = preprocessing > 0;
  }

  read(now_ms: number): LoadReading {
    this.advance(now_ms);
    return {
      elapsed_s: (this.last_ms - this.start_ms) / 1000,
      busy_s: this.busy_ms / 1000,
      preprocessing_s: this.preprocessing_ms / 1000,
      utilization: this.utilization,
      load1: this.load1,
    };
  }

  private advance(now_ms: number): void {
    const dt_ms = now_ms - this.last_ms;
    if (dt_ms <= 0) return;
    this.last_ms = now_ms;
    this.busy_ms += this.share * dt_ms;
    if (this.preprocessing) this.preprocessing_ms += dt_ms;
    this.utilization = this.share + (this.utilization - this.share) * Math.exp(-dt_ms / UTILIZATION_TAU_MS);
    this.load1 = this.runnable + (this.load1 - this.runnable) * Math.exp(-dt_ms / LOAD1_TAU_MS);
  }
}
