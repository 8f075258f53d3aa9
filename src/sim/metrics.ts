/**
 * The simulator's /metrics: vLLM's metric names (so a scraper written for vLLM
 * works against the simulator) in a private prom-client Registry, one for the whole
 * server and one per node. Counters and gauges read plain counters at scrape time,
 * so the hot path only bumps numbers; histograms are observed once per request (the
 * inter-token latency once per content event). A restart starts them from zero again,
 * as a new process would.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FAULT_KINDS, type FaultKind } from './faults.js';

/** Plain counters the server updates; the source of /metrics and of `stats()`. */
export interface SimCounters {
  running: number;
  waiting: number;
  promptTokens: number;
  generationTokens: number;
  /** Prompt tokens served from the prefix cache. */
  prefixHitTokens: number;
  successStop: number;
  successLength: number;
  capacity: number;
  injected: Record<FaultKind, number>;
}

/** What a finished request took, as the server saw it. */
export interface FinishedTimes {
  e2e_s: number;
  /** From reaching the batch to being admitted into it. */
  queue_s: number;
  tpot_s: number | null;
  /** From admission to the first token; null when no token was sent. */
  prefill_s: number | null;
  /** From the first token to the end; null when no token was sent. */
  decode_s: number | null;
}

/** The per-request observation hooks. */
export interface SimObserver {
  observeTtft(seconds: number): void;
  /** The gap before one content event. */
  observeItl(seconds: number): void;
  observeFinished(times: FinishedTimes): void;
}

/** Registry plus the observation hooks. */
export interface SimMetrics extends SimObserver {
  registry: Registry;
  /** The engine restarted at `now_s` (Unix seconds): counters and histograms from zero, a new start time. */
  restart(now_s: number): void;
}

/** The counters of several nodes added up (capacity too, so running / capacity is the mean usage). */
export function sumCounters(all: readonly SimCounters[]): SimCounters {
  const total: SimCounters = {
    running: 0,
    waiting: 0,
    promptTokens: 0,
    generationTokens: 0,
    prefixHitTokens: 0,
    successStop: 0,
    successLength: 0,
    capacity: 0,
    injected: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>,
  };
  for (const c of all) {
    total.running += c.running;
    total.waiting += c.waiting;
    total.promptTokens += c.promptTokens;
    total.generationTokens += c.generationTokens;
    total.prefixHitTokens += c.prefixHitTokens;
    total.successStop += c.successStop;
    total.successLength += c.successLength;
    total.capacity += c.capacity;
    for (const kind of FAULT_KINDS) total.injected[kind] += c.injected[kind];
  }
  return total;
}

/** Both observers see every observation (a node's metrics and the whole server's). */
export function teeObservers(a: SimObserver, b: SimObserver): SimObserver {
  return {
    observeTtft(seconds) {
      a.observeTtft(seconds);
      b.observeTtft(seconds);
    },
    observeItl(seconds) {
      a.observeItl(seconds);
      b.observeItl(seconds);
    },
    observeFinished(times) {
      a.observeFinished(times);
      b.observeFinished(times);
    },
  };
}

// vLLM's default buckets for these histograms (seconds).
const TTFT_BUCKETS_S = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];
const TPOT_BUCKETS_S = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const E2E_BUCKETS_S = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960];

type Totals = Pick<
  SimCounters,
  'promptTokens' | 'generationTokens' | 'prefixHitTokens' | 'successStop' | 'successLength'
> & {
  injected: Record<FaultKind, number>;
};

function totalsOf(c: SimCounters): Totals {
  return {
    promptTokens: c.promptTokens,
    generationTokens: c.generationTokens,
    prefixHitTokens: c.prefixHitTokens,
    successStop: c.successStop,
    successLength: c.successLength,
    injected: { ...c.injected },
  };
}

/** Build a registry over the counters `read` returns (one node's, or every node's added up). */
export function createSimMetrics(model: string, read: () => SimCounters): SimMetrics {
  const registry = new Registry();
  const labels = { model_name: model };
  const labelNames = ['model_name'] as const;
  // Counters report what happened since the last restart: the totals then are subtracted.
  let base: Totals = totalsOf(sumCounters([]));
  let start_s = Date.now() / 1000;
  const since = (): Totals => {
    const now = totalsOf(read());
    const injected = { ...now.injected };
    for (const kind of FAULT_KINDS) injected[kind] -= base.injected[kind];
    return {
      promptTokens: now.promptTokens - base.promptTokens,
      generationTokens: now.generationTokens - base.generationTokens,
      prefixHitTokens: now.prefixHitTokens - base.prefixHitTokens,
      successStop: now.successStop - base.successStop,
      successLength: now.successLength - base.successLength,
      injected,
    };
  };

  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.set(labels, read());
      },
    });
  };
  // Counters are rebuilt from the plain totals at each scrape.
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(labels, read());
      },
    });
  };

  gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', () => read().running);
  gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', () => read().waiting);
  const usage = (): number => {
    const c = read();
    return c.running / c.capacity;
  };
  gauge(
    'vllm:gpu_cache_usage_perc',
    'KV-cache usage (simulated as running / capacity). 1 means 100 percent usage.',
    usage,
  );
  gauge(
    'vllm:kv_cache_usage_perc',
    'KV-cache usage (simulated as running / capacity). 1 means 100 percent usage.',
    usage,
  );
  counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', () => since().promptTokens);
  counter(
    'vllm:generation_tokens_total',
    'Number of generation tokens processed.',
    () => since().generationTokens,
  );
  counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.', () => 0);
  // Every prompt token is looked up in the prefix cache (none is found when it is off).
  counter(
    'vllm:prefix_cache_queries_total',
    'Prefix cache queries, in terms of number of queried tokens.',
    () => since().promptTokens,
  );
  counter(
    'vllm:prefix_cache_hits_total',
    'Prefix cache hits, in terms of number of cached tokens.',
    () => since().prefixHitTokens,
  );
  new Counter({
    name: 'vllm:request_success_total',
    help: 'Count of successfully processed requests.',
    labelNames: ['model_name', 'finished_reason'],
    registers: [registry],
    collect() {
      this.reset();
      const totals = since();
      this.inc({ ...labels, finished_reason: 'stop' }, totals.successStop);
      this.inc({ ...labels, finished_reason: 'length' }, totals.successLength);
    },
  });
  new Counter({
    name: 'infermark_sim_faults_injected_total',
    help: 'Faults the simulator injected, by kind.',
    labelNames: ['model_name', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      const injected = since().injected;
      for (const kind of FAULT_KINDS) this.inc({ ...labels, kind }, injected[kind]);
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers: [registry],
    collect() {
      this.set(start_s);
    },
  });

  const ttft = new Histogram({
    name: 'vllm:time_to_first_token_seconds',
    help: 'Histogram of time to first token in seconds.',
    labelNames,
    buckets: TTFT_BUCKETS_S,
    registers: [registry],
  });
  const tpot = new Histogram({
    name: 'vllm:time_per_output_token_seconds',
    help: 'Histogram of time per output token in seconds.',
    labelNames,
    buckets: TPOT_BUCKETS_S,
    registers: [registry],
  });
  const e2e = new Histogram({
    name: 'vllm:e2e_request_latency_seconds',
    help: 'Histogram of end to end request latency in seconds.',
    labelNames,
    buckets: E2E_BUCKETS_S,
    registers: [registry],
  });
  const queue = new Histogram({
    name: 'vllm:request_queue_time_seconds',
    help: 'Histogram of time spent in WAITING phase for request.',
    labelNames,
    buckets: E2E_BUCKETS_S,
    registers: [registry],
  });
  const prefill = new Histogram({
    name: 'vllm:request_prefill_time_seconds',
    help: 'Histogram of time spent in PREFILL phase for request.',
    labelNames,
    buckets: E2E_BUCKETS_S,
    registers: [registry],
  });
  const decode = new Histogram({
    name: 'vllm:request_decode_time_seconds',
    help: 'Histogram of time spent in DECODE phase for request.',
    labelNames,
    buckets: E2E_BUCKETS_S,
    registers: [registry],
  });
  const itl = new Histogram({
    name: 'vllm:inter_token_latency_seconds',
    help: 'Histogram of inter-token latency in seconds.',
    labelNames,
    buckets: TPOT_BUCKETS_S,
    registers: [registry],
  });
  const histograms = [ttft, tpot, e2e, queue, prefill, decode, itl];

  return {
    registry,
    observeTtft(seconds) {
      ttft.observe(labels, seconds);
    },
    observeItl(seconds) {
      itl.observe(labels, seconds);
    },
    observeFinished(times) {
      e2e.observe(labels, times.e2e_s);
      queue.observe(labels, times.queue_s);
      if (times.tpot_s !== null) tpot.observe(labels, times.tpot_s);
      if (times.prefill_s !== null) prefill.observe(labels, times.prefill_s);
      if (times.decode_s !== null) decode.observe(labels, times.decode_s);
    },
    restart(now_s) {
      base = totalsOf(read());
      start_s = now_s;
      for (const histogram of histograms) histogram.reset();
    },
  };
}
