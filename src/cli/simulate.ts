/**
 * `infermark simulate`: run the OpenAI-compatible simulator in the foreground until
 * SIGINT/SIGTERM. This file only parses and validates flags; the server is imported
 * lazily from src/sim/ when the command runs.
 */
import type { Command } from 'commander';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { untilStopSignal } from '../base/stop-signal.js';
import {
  describeRule,
  NUMERIC_OPTION_RULES,
  satisfiesRule,
  validateSimulatorOptions,
  type SimulatorOptions,
} from '../sim/options.js';

type NumericOption = keyof typeof NUMERIC_OPTION_RULES;

/** Numeric flags, in help order: flag name, option key, help text. */
const NUMERIC_FLAGS: readonly [flag: string, key: NumericOption, help: string][] = [
  ['ttft-ms', 'ttftMs', 'fixed time to first token, from admission into the batch'],
  ['ttft-per-input-token-ms', 'ttftPerInputTokenMs', 'prefill time added per prompt token'],
  ['ttft-jitter-ms', 'ttftJitterMs', 'standard deviation of TTFT jitter'],
  ['itl-ms', 'itlMs', 'mean gap between content events with one sequence running'],
  ['itl-jitter-ms', 'itlJitterMs', 'standard deviation of the gap between content events'],
  ['capacity', 'capacity', 'sequences decoded at once; more requests wait in a queue'],
  ['batch-slowdown', 'batchSlowdown', 'gap multiplier: itl x (1 + slowdown x running / capacity)'],
  ['tokens-per-chunk', 'tokensPerChunk', 'tokens per content event (mimics speculative decoding)'],
  ['reasoning-tokens', 'reasoningTokens', 'first K chat tokens are sent as delta.reasoning_content'],
  ['eos-probability', 'eosProbability', 'chance per token of stopping early unless ignore_eos/min_tokens'],
  ['default-max-tokens', 'defaultMaxTokens', 'output length when a request sets no max_tokens'],
  ['image-tokens', 'imageTokens', 'prompt tokens charged per image part'],
  ['embedding-dim', 'embeddingDim', 'length of embedding vectors'],
  ['zero-delay-events-per-write', 'zeroDelayEventsPerWrite', 'with all delays 0: events per stream per tick'],
  ['error-rate', 'errorRate', 'per-request chance of HTTP 500'],
  ['rate-429', 'rate429', 'per-request chance of HTTP 429 with retry-after'],
  ['disconnect-rate', 'disconnectRate', 'per-request chance of a dropped connection mid-stream'],
  ['stall-rate', 'stallRate', 'per-request chance of a mid-stream pause of --stall-ms'],
  ['stall-ms', 'stallMs', 'length of an injected stall'],
  ['malformed-rate', 'malformedRate', 'per-request chance of one invalid-JSON event mid-stream'],
  ['close-delay-ms', 'closeDelayMs', 'with --close-after-response: delay from the last byte to the close'],
  ['seed', 'seed', 'seed of every random choice (text, jitter, faults)'],
  [
    'write-log-requests',
    'writeLogRequests',
    'serve the write times of the newest N requests at /sim/write-log',
  ],
  ['nodes', 'nodes', 'serving replicas (sim-node-<i>), requests round-robin, each with its own batch'],
  ['gpus-per-node', 'gpusPerNode', 'GPUs per node in the DCGM telemetry'],
  [
    'throttle',
    'throttle',
    'share of the SM clock kept on every GPU (1: none); prefill and decode slow by 1/x',
  ],
  ['slow-node', 'slowNode', 'index of one node that runs slower (-1: none)'],
  ['slow-node-factor', 'slowNodeFactor', 'how many times slower the slow node is'],
  ['restart-after-requests', 'restartAfterRequests', 'every engine restarts once after N admitted requests'],
  ['restart-downtime-ms', 'restartDowntimeMs', 'how long a restarting engine serves nothing'],
  ['cpu-throttle-ms', 'cpuThrottleMs', 'host-side preprocessing delay before a request reaches the batch'],
  [
    'prefix-cache-blocks',
    'prefixCacheBlocks',
    'prefix cache of each node, in blocks of 16 prompt tokens (0: off); cached tokens skip the prefill',
  ],
];

/** Free-text flags: flag name, option key, help text. */
const STRING_FLAGS: readonly [
  flag: string,
  key: 'host' | 'model' | 'gpuModel' | 'driverVersion' | 'ociPublicKey',
  help: string,
][] = [
  ['model', 'model', 'model name served by /v1/models'],
  [
    'oci-public-key',
    'ociPublicKey',
    'PEM public key file: OCI requests must be signed with its private key (else 401)',
  ],
  ['gpu-model', 'gpuModel', 'GPU model name in the DCGM labels'],
  ['driver-version', 'driverVersion', 'driver version in the DCGM labels'],
];

/** Raw flag values as commander hands them over (strings, true for a switch; absent when not given). */
type RawFlags = Record<string, string | boolean | undefined>;

/** Register `simulate` on the program. */
export function registerSimulateCommand(program: Command): void {
  const command = program
    .command('simulate')
    .description('Run an OpenAI-compatible inference simulator (latency model, batching, faults)')
    .option('--port <port>', 'port to listen on (0: any free port)', '8000')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--itl-distribution <kind>', 'distribution of gaps: normal | lognormal')
    .option(
      '--close-after-response',
      'close the connection after each streamed response without saying so (as llama-server does)',
    );
  for (const [flag, , help] of STRING_FLAGS) command.option(`--${flag} <text>`, help);
  for (const [flag, , help] of NUMERIC_FLAGS) command.option(`--${flag} <n>`, help);
  command.action(async (flags: RawFlags) => {
    const options = parseSimulateFlags(flags);
    const { startSimulator } = await import('../sim/server.js');
    const sim = await startSimulator(options);
    process.stdout.write(`infermark simulator listening on ${sim.url}\n`);
    await untilStopSignal();
    await sim.close();
  });
}

/**
 * Turn raw `simulate` flags (camel-cased by commander) into simulator options.
 * Throws ValidationError listing every bad flag at once.
 */
export function parseSimulateFlags(given: RawFlags): Partial<SimulatorOptions> {
  const issues: ValidationIssue[] = [];
  const flags: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(given)) if (typeof value === 'string') flags[key] = value;
  const options: Partial<SimulatorOptions> = {};
  const numeric: [string, NumericOption][] = [
    ['port', 'port'],
    ...NUMERIC_FLAGS.map(([f, k]) => [f, k] as [string, NumericOption]),
  ];
  for (const [flag, key] of numeric) {
    const raw = flags[key];
    if (raw === undefined) continue;
    const rule = NUMERIC_OPTION_RULES[key];
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!satisfiesRule(value, rule)) {
      issues.push({ file: `--${flag}`, path: '', value: raw, message: `must be ${describeRule(rule)}` });
    } else {
      options[key] = value;
    }
  }
  for (const [flag, key] of [['host', 'host'] as const, ...STRING_FLAGS]) {
    const raw = flags[key];
    if (raw === undefined) continue;
    if (raw.trim() === '')
      issues.push({ file: `--${flag}`, path: '', value: raw, message: 'must not be empty' });
    else options[key] = raw;
  }
  if (flags.itlDistribution !== undefined) {
    if (flags.itlDistribution !== 'normal' && flags.itlDistribution !== 'lognormal') {
      issues.push({
        file: '--itl-distribution',
        path: '',
        value: flags.itlDistribution,
        message: 'must be "normal" or "lognormal"',
      });
    } else {
      options.itlDistribution = flags.itlDistribution;
    }
  }
  if (given.closeAfterResponse === true) options.closeAfterResponse = true;
  // Cross-field rules (fault rates summing to at most 1) once every flag parsed.
  if (issues.length === 0) {
    for (const issue of validateSimulatorOptions(options)) issues.push({ ...issue, file: 'flags' });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return options;
}
