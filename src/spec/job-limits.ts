/**
 * Upper bounds on what a job file may hold: its size and nesting before it is parsed, and
 * every free string, list and number in it after. Each bound is far above any real job and
 * below what would break a server, a socket budget or this process; a value past one is
 * refused with its length and the bound, never echoed whole.
 */

/** A job file larger than this is refused unread (Kubernetes objects stop at 1.5 MiB in etcd). */
export const MAX_JOB_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Nesting deeper than this is refused before parsing (a real job nests about 12 deep, in a pod
 * affinity): the YAML parser recurses per level and overflows the stack near a thousand.
 */
export const MAX_JOB_DEPTH = 64;

/** Names no server or registry accepts longer: model names, versions, secret and env names. */
export const MAX_NAME_CHARS = 256;
/** URLs: what common proxies and browsers accept. */
export const MAX_URL_CHARS = 2048;
/** Local file paths (Linux PATH_MAX). */
export const MAX_PATH_CHARS = 4096;
/** Container image references (registry host, repository, tag and digest). */
export const MAX_IMAGE_CHARS = 1024;
/** One traffic scenario or SLO expression. */
export const MAX_EXPRESSION_CHARS = 256;
/** A key of a string map (Kubernetes: 253-character prefix, '/', 63-character name). */
export const MAX_MAP_KEY_CHARS = 317;
/** A value of a string map (request parameters, storage parameters, node selectors). */
export const MAX_MAP_VALUE_CHARS = 16 * 1024;
/** Kubernetes label values. */
export const MAX_LABEL_VALUE_CHARS = 63;
/** Kubernetes annotation values (the API server's limit for all of them together). */
export const MAX_ANNOTATION_VALUE_CHARS = 256 * 1024;
/** Entries of a list of scenarios, SLOs, concurrency levels or rates. */
export const MAX_LIST_ENTRIES = 256;

/** Telemetry targets one job scrapes (each is a request per interval and a folder per iteration). */
export const MAX_TELEMETRY_TARGETS = 32;
/** Static labels of one telemetry target. */
export const MAX_TELEMETRY_LABELS = 32;

/** Streams in flight at once: each is a socket, and a process holds tens of thousands at most. */
export const MAX_CONCURRENCY = 65_536;
/** Measured (or warmup) requests per iteration: every one is a record kept for the run. */
export const MAX_REQUESTS_PER_ITERATION = 10_000_000;
/** Open-loop arrivals per second. */
export const MAX_REQUEST_RATE_RPS = 100_000;
/** Repeats of a run group. */
export const MAX_REPEATS = 1_000;
/** Worker processes (or pods) one run is split over. */
export const MAX_WORKERS = 256;
/** Workload seeds are 32-bit, as genai-bench's (numpy's) are: a job runs the same on both. */
export const MAX_SEED = 2 ** 32 - 1;
/** GPUs serving one deployment. */
export const MAX_GPU_COUNT = 65_536;
/** Gamma shape of bursty arrivals (1 = poisson; large values approach constant). */
export const MAX_BURSTINESS = 1_000_000;
/** Deployment cost per hour, USD. */
export const MAX_COST_PER_HOUR_USD = 1_000_000;
/** An SLA search's probes at most (spec.search.maxProbes): each is a whole iteration. */
export const MAX_SEARCH_PROBES = 64;
/** spec.sharedPrefix: tokens of one shared prefix, and distinct prefixes rotating. */
export const MAX_SHARED_PREFIX_TOKENS = 1_000_000;
export const MAX_PREFIX_GROUPS = 100_000;
/** spec.multiTurn: turns of one conversation. */
export const MAX_TURNS = 1_000;

/** The longest piece of a refused value quoted in a message. */
export const MAX_QUOTED_CHARS = 60;

/** `text` cut to `max` characters with a note of its length, for messages. */
export function clip(text: string, max = MAX_QUOTED_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
