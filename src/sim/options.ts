/**
 * Simulator options: what the fake model looks like (latency model, batch capacity,
 * output shape, injected faults), their defaults, and their validation. Shared by
 * the server, the child-process entry point and the `simulate` CLI command.
 */
import { ValidationError, type ValidationIssue } from '../base/errors.js';

/** Distribution of the gap between content events. */
export type ItlDistribution = 'normal' | 'lognormal';

/** Everything that shapes the simulated model; every field has a default. */
export interface SimulatorOptions {
  /** Interface to listen on; loopback unless asked otherwise. */
  host: string;
  /** 0 lets the OS choose. */
  port: number;
  /** Name reported by /v1/models and echoed when a request names no model. */
  model: string;
  /** Seeds every random choice (text, latency jitter, faults) so runs repeat. */
  seed: number;

  /** Fixed part of the time to first token, counted from admission into the batch. */
  ttftMs: number;
  /** Prefill cost per input token, added to the TTFT. */
  ttftPerInputTokenMs: number;
  /** Standard deviation of a normal jitter added to the TTFT (truncated at 0). */
  ttftJitterMs: number;
  /** Mean gap between content events (one decode step) with one sequence running. */
  itlMs: number;
  /** Standard deviation of the gap between content events. */
  itlJitterMs: number;
  /** `normal` (truncated at 0) or `lognormal` with the same mean and standard deviation. */
  itlDistribution: ItlDistribution;
  /** Sequences decoded concurrently; requests beyond it wait in a queue before their TTFT starts. */
  capacity: number;
  /** Gap multiplier: itl × (1 + batchSlowdown × running / capacity). 0 makes the gap independent of load. */
  batchSlowdown: number;

  /** Tokens per content event (more than 1 mimics speculative decoding); `itlMs` is the gap between events. */
  tokensPerChunk: number;
  /** The first K output tokens of a chat completion come as `delta.reasoning_content`. */
  reasoningTokens: number;
  /** Chance per output token of stopping early (finish_reason `stop`) unless `ignore_eos` or `min_tokens` forbid it. */
  eosProbability: number;
  /** Output length when a request sets neither `max_tokens` nor `max_completion_tokens`. */
  defaultMaxTokens: number;
  /** Prompt tokens charged per image content part (images are not tokenized). */
  imageTokens: number;
  /** Length of embedding vectors. */
  embeddingDim: number;
  /**
   * With all delays 0: content events per stream per event-loop tick, sent in one write.
   * 1 is one socket write per event (~100k events/s on one core); 4 reaches several hundred thousand.
   */
  zeroDelayEventsPerWrite: number;

  /** Per-request chance of an HTTP 500 with an OpenAI-style error body. */
  errorRate: number;
  /** Per-request chance of an HTTP 429 with `retry-after`. */
  rate429: number;
  /** Per-request chance of the socket being destroyed mid-stream. */
  disconnectRate: number;
  /** Per-request chance of a pause of `stallMs` mid-stream. */
  stallRate: number;
  /** Length of an injected stall. */
  stallMs: number;
  /** Per-request chance of one event of invalid JSON mid-stream. */
  malformedRate: number;
  /**
   * Close the socket right after each streamed response, as llama-server does: the response says
   * keep-alive (no `connection: close`), so a client that reuses the connection races the close.
   */
  closeAfterResponse: boolean;
  /**
   * With closeAfterResponse: how long after the response's last byte left the socket is closed.
   * 0 closes at once, which undici (7.x) mostly survives by checking an idle socket for a close
   * before reusing it; 1 ms lets a client's next request go out first and be lost, the race a
   * keep-alive client loses against llama-server.
   */
  closeDelayMs: number;
  /**
   * Keep when each of the newest N requests' headers, content events and end were written
   * (served at `GET /sim/write-log`), for tests to compare a client with; 0 turns it off.
   */
  writeLogRequests: number;

  /** Serving replicas; requests go to them round-robin in arrival order, each with its own batch of `capacity`. */
  nodes: number;
  /** GPUs per node, as its telemetry shows them (one replica spans them all). */
  gpusPerNode: number;
  /** GPU model name in the DCGM labels (`modelName`); its `<n>GB` sets the framebuffer size. */
  gpuModel: string;
  /** Driver version in the DCGM labels (`DCGM_FI_DRIVER_VERSION`). */
  driverVersion: string;

  /** Share of the SM clock every GPU keeps (1 = not throttled): prefill and decode take 1/throttle as long. */
  throttle: number;
  /** Index of a node that runs `slowNodeFactor` times slower than the rest (-1: none). */
  slowNode: number;
  /** How many times slower the slow node's prefill and decode are. */
  slowNodeFactor: number;
  /** Every node's engine restarts once after this many requests were admitted (0: never). */
  restartAfterRequests: number;
  /** How long a restarting engine serves nothing (its queue waits: a cold start). */
  restartDowntimeMs: number;
  /** Host-side preprocessing (CPU-throttled) before a request reaches the batch; the GPU idles meanwhile. */
  cpuThrottleMs: number;
  /**
   * A PEM public key file: OCI requests (`/20231130/actions/*`) must then be signed with its
   * private key (oci-signature.ts), else they are answered 401. '' (the default): not checked.
   */
  ociPublicKey: string;
  /**
   * Blocks of 16 prompt tokens each node keeps in its prefix cache (vLLM's automatic prefix
   * caching; docs/prefix-caching.md); 0 turns it off. Cached tokens skip the prefill.
   */
  prefixCacheBlocks: number;
}

/** Defaults that look like a small model on one GPU. */
export const DEFAULT_SIMULATOR_OPTIONS: Readonly<SimulatorOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  model: 'infermark-sim',
  seed: 42,
  ttftMs: 50,
  ttftPerInputTokenMs: 0.1,
  ttftJitterMs: 0,
  itlMs: 15,
  itlJitterMs: 3,
  itlDistribution: 'normal',
  capacity: 64,
  batchSlowdown: 0.5,
  tokensPerChunk: 1,
  reasoningTokens: 0,
  eosProbability: 0,
  defaultMaxTokens: 256,
  imageTokens: 576,
  embeddingDim: 384,
  zeroDelayEventsPerWrite: 4,
  errorRate: 0,
  rate429: 0,
  disconnectRate: 0,
  stallRate: 0,
  stallMs: 2000,
  malformedRate: 0,
  closeAfterResponse: false,
  closeDelayMs: 1,
  writeLogRequests: 0,
  nodes: 1,
  gpusPerNode: 1,
  gpuModel: 'NVIDIA H100 80GB HBM3',
  driverVersion: '550.54.15',
  throttle: 1,
  slowNode: -1,
  slowNodeFactor: 2,
  restartAfterRequests: 0,
  restartDowntimeMs: 2000,
  cpuThrottleMs: 0,
  ociPublicKey: '',
  prefixCacheBlocks: 0,
});

/** Nodes at most: every telemetry body stays small (MAX_NODES × MAX_GPUS_PER_NODE GPUs in /sim/dcgm). */
export const MAX_NODES = 16;
export const MAX_GPUS_PER_NODE = 8;
/** Longest GPU model or driver string (they are label values on every DCGM series). */
const MAX_LABEL_CHARS = 128;

/** Options that are on or off. */
const BOOLEAN_OPTIONS: ReadonlySet<string> = new Set<keyof SimulatorOptions>(['closeAfterResponse']);

type NumericKey = {
  [K in keyof SimulatorOptions]: SimulatorOptions[K] extends number ? K : never;
}[keyof SimulatorOptions];

interface NumberRule {
  min: number;
  max?: number;
  integer?: boolean;
  /** Whether `min` itself is excluded. */
  exclusiveMin?: boolean;
}

/** Range of every numeric option; the CLI reuses these to validate its flags. */
export const NUMERIC_OPTION_RULES: Readonly<Record<NumericKey, NumberRule>> = {
  port: { min: 0, max: 65535, integer: true },
  seed: { min: 0, max: 2 ** 32 - 1, integer: true },
  ttftMs: { min: 0 },
  ttftPerInputTokenMs: { min: 0 },
  ttftJitterMs: { min: 0 },
  itlMs: { min: 0 },
  itlJitterMs: { min: 0 },
  capacity: { min: 1, integer: true },
  batchSlowdown: { min: 0 },
  tokensPerChunk: { min: 1, integer: true },
  reasoningTokens: { min: 0, integer: true },
  eosProbability: { min: 0, max: 1 },
  defaultMaxTokens: { min: 1, integer: true },
  imageTokens: { min: 0, integer: true },
  embeddingDim: { min: 1, max: 65536, integer: true },
  zeroDelayEventsPerWrite: { min: 1, max: 1024, integer: true },
  errorRate: { min: 0, max: 1 },
  rate429: { min: 0, max: 1 },
  disconnectRate: { min: 0, max: 1 },
  stallRate: { min: 0, max: 1 },
  stallMs: { min: 0 },
  malformedRate: { min: 0, max: 1 },
  closeDelayMs: { min: 0, max: 60_000 },
  writeLogRequests: { min: 0, max: 4096, integer: true },
  nodes: { min: 1, max: MAX_NODES, integer: true },
  gpusPerNode: { min: 1, max: MAX_GPUS_PER_NODE, integer: true },
  throttle: { min: 0, max: 1, exclusiveMin: true },
  slowNode: { min: -1, max: MAX_NODES - 1, integer: true },
  slowNodeFactor: { min: 1, max: 100 },
  restartAfterRequests: { min: 0, integer: true },
  restartDowntimeMs: { min: 0, max: 600_000 },
  cpuThrottleMs: { min: 0, max: 60_000 },
  prefixCacheBlocks: { min: 0, max: 10_000_000, integer: true },
};

/** Words a rule accepts, for messages: `an integer from 1 to 65536`. */
export function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  if (rule.max !== undefined)
    return rule.exclusiveMin
      ? `${kind} > ${rule.min} and <= ${rule.max}`
      : `${kind} from ${rule.min} to ${rule.max}`;
  return `${kind} ${rule.exclusiveMin ? '>' : '>='} ${rule.min}`;
}

/** Whether `value` satisfies `rule`. */
export function satisfiesRule(value: number, rule: NumberRule): boolean {
  if (!Number.isFinite(value)) return false;
  if (rule.integer && !Number.isInteger(value)) return false;
  if (rule.exclusiveMin ? value <= rule.min : value < rule.min) return false;
  return rule.max === undefined || value <= rule.max;
}

/** Every problem with a partial option set, all at once (empty when valid). */
export function validateSimulatorOptions(options: Partial<SimulatorOptions>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const known = new Set(Object.keys(DEFAULT_SIMULATOR_OPTIONS));
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!known.has(key)) {
      issues.push({ path: key, message: 'unknown simulator option' });
      continue;
    }
    const rule = (NUMERIC_OPTION_RULES as Record<string, NumberRule | undefined>)[key];
    if (rule) {
      if (typeof value !== 'number' || !satisfiesRule(value, rule)) {
        issues.push({ path: key, value, message: `must be ${describeRule(rule)}` });
      }
    } else if (BOOLEAN_OPTIONS.has(key)) {
      if (typeof value !== 'boolean') issues.push({ path: key, value, message: 'must be true or false' });
    } else if (key === 'itlDistribution') {
      if (value !== 'normal' && value !== 'lognormal') {
        issues.push({ path: key, value, message: 'must be "normal" or "lognormal"' });
      }
    } else if (key === 'ociPublicKey') {
      // '' is the default: signatures are not checked.
      if (typeof value !== 'string') issues.push({ path: key, value, message: 'must be a file path or ""' });
    } else if (typeof value !== 'string' || value.length === 0) {
      issues.push({ path: key, value, message: 'must be a non-empty string' });
    } else if ((key === 'gpuModel' || key === 'driverVersion') && value.length > MAX_LABEL_CHARS) {
      issues.push({ path: key, value, message: `must be at most ${MAX_LABEL_CHARS} characters` });
    }
  }
  const nodes = options.nodes ?? DEFAULT_SIMULATOR_OPTIONS.nodes;
  if (issues.length === 0 && options.slowNode !== undefined && options.slowNode >= nodes) {
    issues.push({
      path: 'slowNode',
      value: options.slowNode,
      message: `must be -1 or a node index below nodes (${nodes})`,
    });
  }
  const faults =
    (options.errorRate ?? 0) +
    (options.rate429 ?? 0) +
    (options.disconnectRate ?? 0) +
    (options.stallRate ?? 0) +
    (options.malformedRate ?? 0);
  if (issues.length === 0 && faults > 1) {
    issues.push({
      path: 'errorRate+rate429+disconnectRate+stallRate+malformedRate',
      value: faults,
      message: 'fault rates must sum to at most 1 (one fault per request at most)',
    });
  }
  return issues;
}

/** Defaults overlaid with `options`; throws ValidationError listing every bad option. */
export function resolveSimulatorOptions(options: Partial<SimulatorOptions> = {}): SimulatorOptions {
  const issues = validateSimulatorOptions(options);
  if (issues.length > 0) throw new ValidationError(issues);
  const resolved: SimulatorOptions = { ...DEFAULT_SIMULATOR_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  return resolved;
}
