/**
 * The simulator's /metrics: vLLM's metric names (so a scraper written for vLLM
 * works against the simulator) in a private prom-client Registry. Counters and
 * gauges read the server's plain counters at scrape time, so the hot path only
 * bumps numbers; histograms are observed once per request.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FAULT_KINDS, type FaultKind } from './faults.js';

/** Plain counters the server updates; the source of /metrics and of `stats()`. */
export interface SimCounters {
  running: number;
  waiting: number;
  promptTokens: number;
  generationTokens: number;
  successStop: number;
  successLength: number;
  capacity: number;
  injected: Record<FaultKind, number>;
}

/** Registry plus the per-request observation hooks. */
export interface SimMetrics {
  registry: Registry;
  observeTtft(seconds: number): void;
  observeFinished(e2e_s: number, queue_s: number, tpot_s: number | null): void;
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

/** Build the registry for one simulator instance. */
export function createSimMetrics(model: string, counters: SimCounters): SimMetrics {
  const registry = new Registry();
  const labels = { model_name: model };
  const labelNames = ['model_name'] as const;

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

  gauge(
    'vllm:num_requests_running',
    'Number of requests in model execution batches.',
    () => counters.running,
  );
  gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', () => counters.waiting);
  gauge(
    'vllm:gpu_cache_usage_perc',
    'KV-cache usage (simulated as running / capacity). 1 means 100 percent usage.',
    () => counters.running / counters.capacity,
  );
  gauge(
    'vllm:kv_cache_usage_perc',
    'KV-cache usage (simulated as running / capacity). 1 means 100 percent usage.',
    () => counters.running / counters.capacity,
  );
  counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', () => counters.promptTokens);
  counter(
    'vllm:generation_tokens_total',
    'Number of generation tokens processed.',
    () => counters.generationTokens,
  );
  new Counter({
    name: 'vllm:request_success_total',
    help: 'Count of successfully processed requests.',
    labelNames: ['model_name', 'finished_reason'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ ...labels, finished_reason: 'stop' }, counters.successStop);
      this.inc({ ...labels, finished_reason: 'length' }, counters.successLength);
    },
  });
  new Counter({
    name: 'infermark_sim_faults_injected_total',
    help: 'Faults the simulator injected, by kind.',
    labelNames: ['model_name', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const kind of FAULT_KINDS) this.inc({ ...labels, kind }, counters.injected[kind]);
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

  return {
    registry,
    observeTtft(seconds) {
      ttft.observe(labels, seconds);
    },
    observeFinished(e2e_s, queue_s, tpot_s) {
      e2e.observe(labels, e2e_s);
      queue.observe(labels, queue_s);
      if (tpot_s !== null) tpot.observe(labels, tpot_s);
    },
  };
}
