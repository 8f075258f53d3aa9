/**
 * The BenchmarkJob resource as a zod schema: OME's `ome.io/v1beta1` BenchmarkJob
 * (sgl-project/ome pkg/apis/ome/v1beta1/benchmark_job.go) field for field, plus
 * infermark's optional additions at the top of `spec`, so any OME job runs unchanged.
 *
 * This schema checks shapes only. Rules that relate fields (scenario fits task, exactly one
 * endpoint, supported apiFormat, ...) live in job-rules.ts, because zod skips object-level
 * refinements once any field inside has failed, and every error must be reported at once.
 *
 * Deliberate differences from OME:
 * - `outputLocation` is optional (OME requires it): a local run writes to its own run folder,
 *   and the CLI builds jobs without it.
 * - Objects are strict: an unknown field is an error naming it, so typos cannot pass silently
 *   (the Kubernetes API server would prune them without a word).
 */
import { z } from 'zod';
import * as limit from './job-limits.js';
import { omeTasks } from './tasks.js';

/** OME `apiFormat` values, all served (docs/api-formats.md). */
export const omeApiFormats = ['openai', 'oci-cohere', 'cohere'] as const;

/** How `apiFormat: oci-cohere` requests are signed (spec.oci.auth). */
export const ociAuthKinds = ['config-file', 'instance-principal'] as const;

/** OME ServiceMetadata enums (kubebuilder markers). */
export const omeEngines = ['vLLM', 'SGLang', 'TGI'] as const;
export const omeGpuTypes = ['H100', 'A100', 'MI300', 'A10'] as const;

/** Arrival processes for open-loop (request-rate) iterations. */
export const arrivalDistributions = ['constant', 'poisson', 'gamma'] as const;

/** Who exposes a telemetry target (docs/telemetry.md); metrics/telemetry-families.ts says the same. */
export const telemetryRoles = ['server', 'gpu', 'node', 'cluster'] as const;

/** Tokenizers built in; anything else must be a path to a Hugging Face tokenizer.json. */
export const builtinTokenizers = ['o200k_base', 'cl100k_base'] as const;

// RFC 1123: what Kubernetes accepts for object names (subdomain) and namespaces/services (label).
const dnsSubdomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN_MSG =
  "must be a lowercase RFC 1123 name: a-z, 0-9, '-' and '.', starting and ending alphanumeric";
const LABEL_MSG = "must be a lowercase RFC 1123 label: a-z, 0-9 and '-', at most 63 characters";

/** A string of 1 to `max` characters (a longer one is refused with its length and the bound). */
const text = (max: number): z.ZodString => z.string().min(1).max(max);
// A name or URL with a NUL, a newline or an invisible character (U+200B, U+202E) names nothing a server has.
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Cs}]*$/u;
const PRINTABLE_MSG =
  'must not contain control, invisible or broken characters (NUL, newline, U+200B, U+202E, a lone surrogate)';
const name = text(limit.MAX_NAME_CHARS).regex(PRINTABLE, PRINTABLE_MSG);
const url = z
  .string()
  .max(limit.MAX_URL_CHARS)
  .regex(PRINTABLE, PRINTABLE_MSG)
  .regex(/^(http|https):\/\//, 'must start with http:// or https://');
const filePath = text(limit.MAX_PATH_CHARS);
const stringMap = z.record(
  z.string().max(limit.MAX_MAP_KEY_CHARS),
  z.string().max(limit.MAX_MAP_VALUE_CHARS),
);
const list = <T extends z.ZodType>(item: T): z.ZodArray<T> => z.array(item).max(limit.MAX_LIST_ENTRIES);
// Kubernetes structures OME passes through untouched (EnvVar, Volume, Affinity, ...).
const k8sObject = z.record(z.string(), z.unknown());

/** OME StorageSpec (model.go): where results go or a dataset comes from. */
const storageSpec = z.strictObject({
  storageUri: text(limit.MAX_URL_CHARS),
  path: z.string().max(limit.MAX_PATH_CHARS).optional(),
  parameters: stringMap.optional(),
  key: z.string().max(limit.MAX_PATH_CHARS).optional(),
  nodeSelector: stringMap.optional(),
  nodeAffinity: k8sObject.optional(),
});

/** OME PodOverride: its own field set is strict, the Kubernetes values inside are loose. */
const podOverride = z.strictObject({
  image: z.string().max(limit.MAX_IMAGE_CHARS).regex(PRINTABLE, PRINTABLE_MSG).optional(),
  env: z.array(k8sObject).optional(),
  envFrom: z.array(k8sObject).optional(),
  volumeMounts: z.array(k8sObject).optional(),
  resources: k8sObject.optional(),
  tolerations: z.array(k8sObject).optional(),
  nodeSelector: stringMap.optional(),
  affinity: k8sObject.optional(),
  volumes: z.array(k8sObject).optional(),
});

const endpointSpec = z.strictObject({
  inferenceService: z
    .strictObject({
      name: z.string().max(63).regex(dnsLabel, LABEL_MSG),
      namespace: z.string().max(63).regex(dnsLabel, LABEL_MSG),
    })
    .optional(),
  endpoint: z
    .strictObject({
      url,
      apiFormat: z.enum(omeApiFormats),
      modelName: name.optional(),
    })
    .optional(),
});

const serviceMetadata = z.strictObject({
  engine: z.enum(omeEngines),
  version: z.string().max(limit.MAX_NAME_CHARS),
  gpuType: z.enum(omeGpuTypes),
  gpuCount: z.number().int().min(0).max(limit.MAX_GPU_COUNT),
});

const positiveInt = z.number().int().min(1);

/** Node's timers hold at most 2^31−1 ms (24.8 days); a longer delay fires at once. */
const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);
const MAX_TIMER_MINUTES = Math.floor(MAX_TIMER_S / 60);

/** `spec`: OME's BenchmarkJobSpec, then infermark's additions. */
const jobSpec = z.strictObject({
  // --- OME ---
  // OME's Go struct is not a pointer and has no omitempty: Go clients write `{name: ""}`.
  huggingFaceSecretReference: z.strictObject({ name: z.string().max(limit.MAX_NAME_CHARS) }).optional(),
  endpoint: endpointSpec,
  serviceMetadata: serviceMetadata.optional(),
  task: z.enum(omeTasks),
  /** Scenario strings; checked with parseScenario in job-rules.ts. Defaults by task when omitted. */
  trafficScenarios: list(z.string().max(limit.MAX_EXPRESSION_CHARS)).optional(),
  /** Closed-loop concurrency levels. Defaults in job-validate.ts when omitted. */
  numConcurrency: list(positiveInt.max(limit.MAX_CONCURRENCY)).optional(),
  /** Minutes. */
  maxTimePerIteration: positiveInt.max(
    MAX_TIMER_MINUTES,
    `must be at most ${MAX_TIMER_MINUTES} minutes (24.8 days)`,
  ),
  maxRequestsPerIteration: positiveInt.max(limit.MAX_REQUESTS_PER_ITERATION),
  additionalRequestParams: stringMap.optional(),
  /** OME: a StorageSpec (storageUri...), not a path; see `datasetFile` for local files. */
  dataset: storageSpec.optional(),
  /** Required by OME, optional here (local runs have their own run folder). */
  outputLocation: storageSpec.optional(),
  resultFolderName: filePath.optional(),
  podOverride: podOverride.optional(),

  // --- infermark additions (all optional) ---
  /** Open-loop request rates (req/s), run in addition to the numConcurrency iterations. */
  requestRates: list(z.number().positive().max(limit.MAX_REQUEST_RATE_RPS)).optional(),
  /** Arrival process for requestRates; burstiness is the gamma shape (1 = poisson). */
  arrival: z
    .strictObject({
      distribution: z.enum(arrivalDistributions).default('poisson'),
      burstiness: z.number().positive().max(limit.MAX_BURSTINESS).optional(),
    })
    .default({ distribution: 'poisson' }),
  /** Trace file (arrival time, input and output length per request) → a trace-replay iteration. */
  trace: filePath.optional(),
  warmup: z
    .strictObject({
      requests: z.number().int().min(0).max(limit.MAX_REQUESTS_PER_ITERATION).optional(),
      seconds: z.number().min(0).max(MAX_TIMER_S, `must be at most ${MAX_TIMER_S} seconds`).optional(),
    })
    .optional(),
  /** Goodput SLOs like `p99_ttft_ms<=500`; checked with parseSlo in job-rules.ts. */
  slos: list(z.string().max(limit.MAX_EXPRESSION_CHARS)).optional(),
  seed: z.number().int().min(0).max(limit.MAX_SEED).default(42),
  /** `o200k_base`, `cl100k_base`, or a path to a Hugging Face tokenizer.json. */
  tokenizer: filePath.default('o200k_base'),
  repeats: positiveInt.max(limit.MAX_REPEATS).default(1),
  /**
   * Load generators the run is split over (docs/shards.md): N worker processes, each sending
   * an exact shard of every iteration; `auto` = one per core. 1 (the default) is one process.
   */
  workers: z.union([positiveInt.max(limit.MAX_WORKERS), z.literal('auto')]).optional(),
  stream: z.boolean().default(true),
  requestTimeoutSeconds: z
    .number()
    .positive()
    .max(MAX_TIMER_S, `must be at most ${MAX_TIMER_S} seconds (24.8 days)`)
    .default(600),
  ignoreEos: z.boolean().default(true),
  /** Protocol for text-to-text when the endpoint URL's path does not say. */
  api: z.enum(['chat', 'completions']).optional(),
  /**
   * `apiFormat: oci-cohere` only (required there): how requests are signed, with the OCI SDK's
   * signer, and the compartment they name. `auth: config-file` reads the key of `profile`
   * (default DEFAULT) in `configFile` (default ~/.oci/config); `instance-principal` uses the
   * instance's identity (an OCI instance in a dynamic group).
   */
  oci: z
    .strictObject({
      auth: z.enum(ociAuthKinds),
      configFile: filePath.optional(),
      profile: name.optional(),
      compartmentId: name,
    })
    .optional(),
  /** Where the API key comes from: exactly one of env, file, secretRef. */
  apiKey: z
    .strictObject({
      env: name.optional(),
      file: filePath.optional(),
      secretRef: z.strictObject({ name, key: name }).optional(),
    })
    .optional(),
  /** Server Prometheus endpoint to scrape; derived from the endpoint when omitted. */
  metricsUrl: url.optional(),
  /**
   * Seconds between scrapes of metricsUrl while an iteration runs (default 2); an iteration
   * whose time limit is short gets a shorter interval, so it still has samples under load.
   */
  metricsIntervalSeconds: z
    .number()
    .min(0.1, 'must be at least 0.1 seconds')
    .max(3600, 'must be at most 3600 seconds')
    .optional(),
  /**
   * Prometheus endpoints scraped on spec.metricsIntervalSeconds during every iteration, each
   * with its role (docs/telemetry.md). The server's own (metricsUrl, or `<endpoint>/metrics`) is
   * scraped as the target `server` unless the list holds a target of role server.
   */
  telemetry: z
    .array(
      z.strictObject({
        url,
        role: z.enum(telemetryRoles),
        /** Its folder in the run folder; `<role>`, then `<role>-2`, ... when omitted. */
        name: z
          .string()
          .max(63)
          .regex(dnsLabel, "must be a lowercase name: a-z, 0-9 and '-', at most 63 characters")
          .optional(),
        /** Static labels (node_name, pod, gpu_uuid set the scope of its rows). */
        labels: z
          .record(
            z
              .string()
              .max(limit.MAX_MAP_KEY_CHARS)
              .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a Prometheus label name'),
            z.string().max(limit.MAX_NAME_CHARS),
          )
          .refine((labels) => Object.keys(labels).length <= limit.MAX_TELEMETRY_LABELS, {
            message: `must have at most ${limit.MAX_TELEMETRY_LABELS} labels`,
          })
          .optional(),
      }),
    )
    .max(limit.MAX_TELEMETRY_TARGETS)
    .optional(),
  /**
   * `exploratory` (default) or `claim`: a claim run is one whose numbers may be published,
   * so it is refused unless its job file is committed unchanged in git (pinned methodology).
   */
  intent: z.enum(['exploratory', 'claim']).default('exploratory'),
  /** What the deployment under test costs per hour (USD): gives cost per request and per million tokens. */
  costPerHourUsd: z.number().positive().max(limit.MAX_COST_PER_HOUR_USD).optional(),
  /**
   * Cost from a GPU price (docs/cost.md): `gpuHourUsd` × serviceMetadata.gpuCount, or the
   * price of serviceMetadata.gpuType in `priceTable` (a YAML/JSON file of $ per GPU-hour).
   * costPerHourUsd, when given, wins.
   */
  cost: z
    .strictObject({
      gpuHourUsd: z.number().positive().max(limit.MAX_COST_PER_HOUR_USD).optional(),
      priceTable: filePath.optional(),
    })
    .optional(),
  /**
   * A prefix shared by requests (docs/prefix-caching.md), as vLLM's `--random-prefix-len`: every
   * prompt begins with one of `groups` distinct prefixes of `tokens` tokens (request i takes
   * group i mod groups), followed by the scenario's own input tokens.
   */
  sharedPrefix: z
    .strictObject({
      tokens: positiveInt.max(limit.MAX_SHARED_PREFIX_TOKENS),
      groups: positiveInt.max(limit.MAX_PREFIX_GROUPS).default(1),
    })
    .optional(),
  /**
   * Multi-turn conversations (docs/multi-turn.md): each request carries the conversation so
   * far. Concurrency counts conversations in flight, request rates count new conversations,
   * and maxRequestsPerIteration counts conversations. A synthetic scenario gives every user
   * turn its lengths and needs `turns`; a dataset's conversations bring their own turns (at
   * most `turns` of them when given).
   */
  multiTurn: z
    .strictObject({
      turns: positiveInt.max(limit.MAX_TURNS).optional(),
      /** Pause between the answer to one turn and the next turn of the same conversation. */
      thinkTimeSeconds: z.number().min(0).max(3600).default(0),
      /** Assistant turns of the history: what the server answered, or the dataset's replies. */
      assistantTurns: z.enum(['server', 'dataset']).default('server'),
    })
    .optional(),
  /**
   * The SLA search (`infermark search`, docs/search.md): the highest load at which every SLO in
   * spec.slos holds, probed as iterations of one run: a ramp from `min` doubling up to the first
   * failure, then bisection to `precisionPercent`. Each probe sends maxRequestsPerIteration
   * measured requests, more when an SLO's percentile needs more, and runs spec.repeats times.
   */
  search: z
    .strictObject({
      /** Search over open-loop request rates (req/s) or closed-loop concurrency. */
      by: z.enum(['rate', 'concurrency']).default('rate'),
      /** The first (lowest) load probed; 1 when omitted. */
      min: z.number().positive().max(limit.MAX_REQUEST_RATE_RPS).optional(),
      /** No load above this is probed; the largest the job allows (request rate or concurrency) when omitted. */
      max: z.number().positive().max(limit.MAX_REQUEST_RATE_RPS).optional(),
      /** Probes (distinct loads) at most; the search stops with its bracket when they are spent. */
      maxProbes: positiveInt.max(limit.MAX_SEARCH_PROBES).default(12),
      /** Done once the bracket's width is at most this percent of its lower end. */
      precisionPercent: z.number().min(0.1).max(100).default(5),
      /** The traffic scenario searched; the first of trafficScenarios when omitted. */
      scenario: z.string().max(limit.MAX_EXPRESSION_CHARS).optional(),
    })
    .optional(),
  /** Local JSONL dataset for the `dataset` scenario (OME's `dataset` is a storage spec). */
  datasetFile: filePath.optional(),
  /**
   * The run fails (exit 1, status `failed`) when its error rate over the whole run,
   * errored / (completed + errored) measured requests, is above this; 0.5 when omitted.
   */
  maxErrorRate: z.number().min(0).max(1).optional(),
  /** Check before any load that the server lists the model at `/v1/models`; true when omitted. */
  preflight: z.boolean().optional(),
  /**
   * Kubernetes (docs/k8s.md): set to true on a running BenchmarkJob to end its run as Ctrl-C
   * does (the current iteration stops, finished ones are kept and uploaded). Ignored by `run`.
   */
  cancel: z.boolean().optional(),
});

/** The whole resource. `status` is accepted (jobs exported with kubectl carry it) and ignored. */
export const benchmarkJobSchema = z.strictObject({
  apiVersion: z.literal('ome.io/v1beta1'),
  kind: z.literal('BenchmarkJob'),
  metadata: z.looseObject({
    name: z.string().max(253).regex(dnsSubdomain, SUBDOMAIN_MSG),
    namespace: z.string().max(63).regex(dnsLabel, LABEL_MSG).optional(),
    labels: z
      .record(z.string().max(limit.MAX_MAP_KEY_CHARS), z.string().max(limit.MAX_LABEL_VALUE_CHARS))
      .optional(),
    annotations: z
      .record(z.string().max(limit.MAX_MAP_KEY_CHARS), z.string().max(limit.MAX_ANNOTATION_VALUE_CHARS))
      .optional(),
  }),
  spec: jobSpec,
  status: z.unknown().optional(),
});

type ParsedJob = z.output<typeof benchmarkJobSchema>;
type ParsedSpec = ParsedJob['spec'];

/**
 * A validated BenchmarkJob after defaults: `trafficScenarios` and `numConcurrency` are always
 * present (numConcurrency may be empty when only requestRates or a trace drive the run).
 */
export type BenchmarkJob = Omit<ParsedJob, 'spec'> & {
  spec: Omit<ParsedSpec, 'trafficScenarios' | 'numConcurrency'> & {
    trafficScenarios: string[];
    numConcurrency: number[];
  };
};

/** The spec of a validated job. */
export type BenchmarkJobSpec = BenchmarkJob['spec'];
