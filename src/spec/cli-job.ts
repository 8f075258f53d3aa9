/**
 * A BenchmarkJob built from command-line flags, validated by the same schema and rules as a
 * job file, with errors named after the flags (`command line: --scenario[1]: ...`).
 */
import { ValidationError } from '../base/errors.js';
import { formatPath, type PathSegment } from './field-path.js';
import { validateJob } from './job-validate.js';
import type { ValidatedJob } from './validated-job.js';
import { toValidationIssues } from './job-issues.js';

/** Flag values as the CLI parsed them; enum-like values stay strings so the schema checks them. */
export interface CliJobOptions {
  url: string;
  model: string;
  /** metadata.name; derived from the model when omitted. */
  name?: string;
  task?: string;
  scenarios?: string[];
  concurrency?: number[];
  rates?: number[];
  /** Default 100 (the seed examples' maxRequestsPerIteration). */
  maxRequests?: number;
  /** Minutes; default 10. */
  maxTimeMinutes?: number;
  seed?: number;
  arrival?: string;
  burstiness?: number;
  trace?: string;
  warmupRequests?: number;
  warmupSeconds?: number;
  slos?: string[];
  tokenizer?: string;
  repeats?: number;
  workers?: number | 'auto';
  stream?: boolean;
  timeoutSeconds?: number;
  ignoreEos?: boolean;
  api?: string;
  /** spec.endpoint.endpoint.apiFormat; default openai. */
  apiFormat?: string;
  /** spec.oci, set when any of them is given (auth defaults to config-file). */
  ociAuth?: string;
  ociConfigFile?: string;
  ociProfile?: string;
  ociCompartment?: string;
  apiKeyEnv?: string;
  apiKeyFile?: string;
  metricsUrl?: string;
  metricsIntervalSeconds?: number;
  /** `--telemetry [ROLE=]URL`, repeatable: spec.telemetry (a plain URL is role server). */
  telemetry?: string[];
  datasetFile?: string;
  /** spec.sharedPrefix.tokens and .groups. */
  prefixTokens?: number;
  prefixGroups?: number;
  /** additionalRequestParams (string → string, as in OME). */
  params?: Record<string, string>;
  /** outputLocation.storageUri. */
  output?: string;
  /** spec.maxErrorRate (0..1). */
  maxErrorRate?: number;
  /** spec.preflight: false with --no-preflight. */
  preflight?: boolean;
}

/** Spec field → the flag that sets it, for error messages. */
export const cliFlags: Readonly<Record<string, string>> = {
  'spec.endpoint.endpoint.url': '--url',
  'spec.endpoint.endpoint.modelName': '--model',
  'metadata.name': '--name',
  'spec.task': '--task',
  'spec.trafficScenarios': '--scenario',
  'spec.numConcurrency': '--concurrency',
  'spec.requestRates': '--rate',
  'spec.maxRequestsPerIteration': '--max-requests',
  'spec.maxTimePerIteration': '--max-time',
  'spec.seed': '--seed',
  'spec.arrival.distribution': '--arrival',
  'spec.arrival.burstiness': '--burstiness',
  'spec.arrival': '--arrival',
  'spec.trace': '--trace',
  'spec.warmup.requests': '--warmup-requests',
  'spec.warmup.seconds': '--warmup-seconds',
  'spec.slos': '--slo',
  'spec.tokenizer': '--tokenizer',
  'spec.repeats': '--repeats',
  'spec.workers': '--workers',
  'spec.stream': '--stream',
  'spec.requestTimeoutSeconds': '--timeout',
  'spec.ignoreEos': '--ignore-eos',
  'spec.api': '--api',
  'spec.endpoint.endpoint.apiFormat': '--api-format',
  'spec.oci.auth': '--oci-auth',
  'spec.oci.configFile': '--oci-config-file',
  'spec.oci.profile': '--oci-profile',
  'spec.oci.compartmentId': '--oci-compartment',
  'spec.oci': '--oci-auth/--oci-compartment',
  'spec.apiKey.env': '--api-key-env',
  'spec.apiKey.file': '--api-key-file',
  'spec.apiKey': '--api-key-env/--api-key-file',
  'spec.metricsUrl': '--metrics-url',
  'spec.metricsIntervalSeconds': '--metrics-interval',
  'spec.telemetry': '--telemetry',
  'spec.datasetFile': '--dataset',
  'spec.sharedPrefix.tokens': '--prefix-tokens',
  'spec.sharedPrefix.groups': '--prefix-groups',
  'spec.sharedPrefix': '--prefix-tokens',
  'spec.additionalRequestParams': '--param',
  'spec.outputLocation.storageUri': '--output',
  'spec.endpoint': '--url',
  'spec.maxErrorRate': '--max-error-rate',
  'spec.preflight': '--no-preflight',
};

/** The flag (with index) for a spec path, e.g. `--scenario[1]`; the spec path when no flag sets it. */
export function cliPathFor(path: readonly PathSegment[]): string {
  for (let n = path.length; n > 0; n--) {
    const flag = cliFlags[formatPath(path.slice(0, n))];
    if (flag !== undefined) return flag + formatPath(path.slice(n));
  }
  return formatPath(path);
}

/**
 * Build and validate a job from CLI flags. Concurrency defaults to [1] (a quick check, unlike a
 * job file's genai-bench sweep) unless rates or a trace are given.
 * @throws ValidationError with file `command line` and flag-named paths.
 */
export function jobFromCli(opts: CliJobOptions): ValidatedJob {
  const spec: Record<string, unknown> = {
    endpoint: { endpoint: { url: opts.url, apiFormat: opts.apiFormat ?? 'openai', modelName: opts.model } },
    task: opts.task ?? 'text-to-text',
    maxTimePerIteration: opts.maxTimeMinutes ?? 10,
    maxRequestsPerIteration: opts.maxRequests ?? 100,
  };
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) spec[key] = value;
  };
  set('trafficScenarios', opts.scenarios);
  set(
    'numConcurrency',
    opts.concurrency ?? (opts.rates === undefined && opts.trace === undefined ? [1] : undefined),
  );
  set('requestRates', opts.rates);
  if (opts.arrival !== undefined || opts.burstiness !== undefined) {
    spec.arrival = dropUndefined({ distribution: opts.arrival, burstiness: opts.burstiness });
  }
  set('trace', opts.trace);
  if (opts.warmupRequests !== undefined || opts.warmupSeconds !== undefined) {
    spec.warmup = dropUndefined({ requests: opts.warmupRequests, seconds: opts.warmupSeconds });
  }
  set('slos', opts.slos);
  set('seed', opts.seed);
  set('tokenizer', opts.tokenizer);
  set('repeats', opts.repeats);
  set('workers', opts.workers);
  set('stream', opts.stream);
  set('requestTimeoutSeconds', opts.timeoutSeconds);
  set('ignoreEos', opts.ignoreEos);
  set('api', opts.api);
  if (opts.apiKeyEnv !== undefined || opts.apiKeyFile !== undefined) {
    spec.apiKey = dropUndefined({ env: opts.apiKeyEnv, file: opts.apiKeyFile });
  }
  const oci = [opts.ociAuth, opts.ociConfigFile, opts.ociProfile, opts.ociCompartment];
  if (oci.some((v) => v !== undefined)) {
    spec.oci = dropUndefined({
      auth: opts.ociAuth ?? 'config-file',
      configFile: opts.ociConfigFile,
      profile: opts.ociProfile,
      compartmentId: opts.ociCompartment,
    });
  }
  set('metricsUrl', opts.metricsUrl);
  set('metricsIntervalSeconds', opts.metricsIntervalSeconds);
  set('telemetry', opts.telemetry?.map(telemetryFlag));
  set('datasetFile', opts.datasetFile);
  if (opts.prefixTokens !== undefined || opts.prefixGroups !== undefined) {
    spec.sharedPrefix = dropUndefined({ tokens: opts.prefixTokens, groups: opts.prefixGroups });
  }
  set('additionalRequestParams', opts.params);
  if (opts.output !== undefined) spec.outputLocation = { storageUri: opts.output };
  set('maxErrorRate', opts.maxErrorRate);
  set('preflight', opts.preflight);

  const raw = {
    apiVersion: 'ome.io/v1beta1',
    kind: 'BenchmarkJob',
    metadata: { name: opts.name ?? nameFromModel(opts.model), namespace: 'default' },
    spec,
  };
  const result = validateJob(raw);
  if (result.ok) return result.job;
  throw new ValidationError(toValidationIssues(result.issues, raw, 'command line', cliPathFor));
}

/**
 * `gpu=http://h:9400/metrics` → { role: gpu, url }; a plain URL is role server. A prefix that is
 * not a role is kept as the role, so the schema names it (`--telemetry[0].role`).
 */
export function telemetryFlag(value: string): { role: string; url: string } {
  const m = /^([A-Za-z][\w-]*)=(.*)$/s.exec(value);
  return m ? { role: m[1] as string, url: m[2] as string } : { role: 'server', url: value };
}

function dropUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** A valid Kubernetes name from a model id: `meta-llama/Llama-3.1-8B` → `meta-llama-llama-3.1-8b`. */
function nameFromModel(model: string): string {
  const name = String(model)
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/[-.]{2,}/g, '-')
    .slice(0, 63)
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return name === '' ? 'infermark-run' : name;
}
