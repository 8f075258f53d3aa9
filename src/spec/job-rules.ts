/**
 * Rules of a BenchmarkJob that a shape schema cannot say: scenario strings and SLOs parse,
 * scenarios fit the task, exactly one endpoint, only served apiFormats, sets have no
 * duplicates, a `dataset` scenario has a dataset. They read the raw input defensively (a
 * field of the wrong type is left to the schema), so they report alongside schema errors.
 * What they parse on the way (scenarios, SLOs, the output storage URI) is kept, so the
 * validated job carries it and nothing parses those strings again.
 */
import { EndpointUrlError, splitEndpointUrl, type OpenAiPath } from './endpoint.js';
import type { PathSegment } from './field-path.js';
import { clip, MAX_EXPRESSION_CHARS, MAX_URL_CHARS } from './job-limits.js';
import { builtinTokenizers, omeApiFormats } from './job-schema.js';
import { parseScenario } from './scenario.js';
import { parseSlo } from './slo.js';
import type { Slo } from './slo-types.js';
import { isSafeRelativePath } from '../base/safe-path.js';
import { parseStorageUri, type StorageLocation } from './storage-uri.js';
import { omeTasks, scenarioFitsTask, scenarioTaskKinds, type Task } from './tasks.js';
import type { ParsedScenario } from './validated-job.js';
import { checkMultiTurn } from './multi-turn-rules.js';

/** One problem: where, and what was expected. */
export interface JobIssue {
  path: PathSegment[];
  message: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const KIND_FORMS: Record<string, string> = {
  D: 'D(in,out)',
  N: 'N(μin,σin)/(μout,σout)',
  U: 'U(...)',
  E: 'E(tokens)',
  R: 'R(doc,query)',
  I: 'I(w,h)',
  dataset: 'dataset',
};

/** Which OpenAI paths serve which task. */
const PATHS_FOR_TASK: Record<Task, readonly OpenAiPath[]> = {
  'text-to-text': ['/v1/chat/completions', '/v1/completions'],
  'image-to-text': ['/v1/chat/completions'],
  'text-to-embeddings': ['/v1/embeddings'],
  'image-to-embeddings': ['/v1/embeddings'],
};

/**
 * What the rules found: every problem, and the values parsed on the way. The values are
 * whole only when there is no problem: `scenarios` then holds one entry per
 * `spec.trafficScenarios` entry (null when the job lists none), `slos` one per `spec.slos`.
 */
export interface JobRulesResult {
  issues: JobIssue[];
  scenarios: ParsedScenario[] | null;
  slos: Slo[];
  outputLocation: StorageLocation | null;
}

/** Cross-field checks over a raw (unvalidated) job object. */
export function checkJobRules(raw: unknown): JobRulesResult {
  const result: JobRulesResult = { issues: [], scenarios: null, slos: [], outputLocation: null };
  const { issues } = result;
  const add = (path: PathSegment[], message: string): void => {
    issues.push({ path, message });
  };
  if (!isObj(raw) || !isObj(raw.spec)) return result;
  const spec = raw.spec;
  const task = (omeTasks as readonly unknown[]).includes(spec.task) ? (spec.task as Task) : undefined;

  checkEndpoint(spec, task, add);
  result.scenarios = checkScenarios(spec, task, add);
  // With no scenarios, a storage dataset would default the job to dataset mode, which cannot run yet.
  if (spec.trafficScenarios === undefined && spec.dataset !== undefined && spec.datasetFile === undefined) {
    add(
      ['spec', 'dataset'],
      'reading a dataset from storage is not supported yet: download it and set spec.datasetFile (or list trafficScenarios)',
    );
  }
  // A trace brings its own shared blocks (hash_ids); a conversation's turns, their own history.
  if (spec.sharedPrefix !== undefined && spec.trace !== undefined) {
    add(
      ['spec', 'sharedPrefix'],
      'a trace replays its own shared prefixes (hash_ids): remove sharedPrefix or trace',
    );
  }
  if (spec.sharedPrefix !== undefined && spec.multiTurn !== undefined) {
    add(['spec', 'sharedPrefix'], 'sharedPrefix with multiTurn is not supported yet: remove one of them');
  }
  if (typeof spec.resultFolderName === 'string' && spec.resultFolderName !== '') {
    if (!isSafeRelativePath(spec.resultFolderName)) {
      add(
        ['spec', 'resultFolderName'],
        'expected a relative folder name (no leading "/", no "." or ".." parts)',
      );
    }
  }
  // Strings past their bound are the schema's to report; they are not parsed here.
  if (isObj(spec.outputLocation) && within(spec.outputLocation.storageUri, MAX_URL_CHARS)) {
    const parsed = parseStorageUri(spec.outputLocation.storageUri);
    if (parsed.ok) result.outputLocation = parsed.location;
    else add(['spec', 'outputLocation', 'storageUri'], parsed.message);
  }
  checkSet(spec.numConcurrency, ['spec', 'numConcurrency'], 'concurrency level', add);
  checkSet(spec.requestRates, ['spec', 'requestRates'], 'request rate', add);

  if (Array.isArray(spec.slos)) {
    spec.slos.forEach((text, i) => {
      if (!within(text, MAX_EXPRESSION_CHARS)) return;
      const r = parseSlo(text);
      if (r.ok) result.slos.push(r.slo);
      else add(['spec', 'slos', i], r.message);
    });
  }

  if (isObj(spec.arrival) && spec.arrival.burstiness !== undefined) {
    const dist = spec.arrival.distribution ?? 'poisson';
    if (dist !== 'gamma') {
      add(
        ['spec', 'arrival', 'burstiness'],
        `burstiness applies only to distribution gamma (distribution is ${clip(String(dist))})`,
      );
    }
  }

  if (isObj(spec.apiKey)) {
    const given = (['env', 'file', 'secretRef'] as const).filter(
      (k) => spec.apiKey && (spec.apiKey as Obj)[k] !== undefined,
    );
    if (given.length !== 1) {
      add(
        ['spec', 'apiKey'],
        given.length === 0
          ? 'expected exactly one of env, file or secretRef'
          : `expected exactly one of env, file or secretRef, got ${given.join(' and ')}`,
      );
    }
  }

  if (typeof spec.tokenizer === 'string' && spec.tokenizer !== '') {
    const t = spec.tokenizer;
    const builtin = (builtinTokenizers as readonly string[]).includes(t);
    if (!builtin && !t.includes('/') && !t.includes('\\') && !t.endsWith('.json')) {
      add(
        ['spec', 'tokenizer'],
        `expected ${builtinTokenizers.join(' or ')}, or a path to a Hugging Face tokenizer.json`,
      );
    }
  }

  checkFormat(spec, result.scenarios, add);
  if (spec.api !== undefined && task !== undefined && task !== 'text-to-text') {
    add(['spec', 'api'], `api applies only to task text-to-text (task is ${task})`);
  }
  checkTelemetryNames(spec.telemetry, add);
  checkMultiTurn(spec, task, result.scenarios, add);
  checkCost(spec, add);
  checkSearch(spec, add);
  return result;
}

/** spec.cost prices GPUs: it needs serviceMetadata's GPU count (and, for a table, the GPU type). */
function checkCost(spec: Obj, add: Add): void {
  if (!isObj(spec.cost) || spec.costPerHourUsd !== undefined) return;
  const { gpuHourUsd, priceTable } = spec.cost;
  if (gpuHourUsd === undefined && priceTable === undefined) {
    add(
      ['spec', 'cost'],
      'expected gpuHourUsd or priceTable (or spec.costPerHourUsd for the whole deployment)',
    );
    return;
  }
  const by = gpuHourUsd !== undefined ? 'spec.cost.gpuHourUsd' : 'spec.cost.priceTable';
  const meta = isObj(spec.serviceMetadata) ? spec.serviceMetadata : null;
  // Inside a given serviceMetadata both fields are required by the schema, which reports them.
  if (meta === null) {
    add(['spec', 'serviceMetadata', 'gpuCount'], `required by ${by}: the price is per GPU-hour`);
    if (gpuHourUsd === undefined) {
      add(
        ['spec', 'serviceMetadata', 'gpuType'],
        'required by spec.cost.priceTable: the table prices GPU types',
      );
    }
  } else if (meta.gpuCount === 0) {
    // 0 GPUs × a price is $0: every cost would read as free, not as unknown.
    add(
      ['spec', 'serviceMetadata', 'gpuCount'],
      `must be at least 1 when ${by} prices the deployment per GPU`,
    );
  }
}

/** spec.search (docs/search.md): its bounds in order, and a scenario the job lists. */
function checkSearch(spec: Obj, add: Add): void {
  if (!isObj(spec.search)) return;
  const { min, max, scenario } = spec.search;
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    add(['spec', 'search', 'max'], `must be at least spec.search.min (${min})`);
  }
  if (typeof scenario === 'string' && Array.isArray(spec.trafficScenarios)) {
    if (!spec.trafficScenarios.includes(scenario)) {
      add(
        ['spec', 'search', 'scenario'],
        `expected one of spec.trafficScenarios (${spec.trafficScenarios.join(', ')})`,
      );
    }
  }
}

/** Each telemetry target's name is its folder: two targets named alike would write one folder. */
function checkTelemetryNames(list: unknown, add: Add): void {
  if (!Array.isArray(list)) return;
  const seen = new Map<string, number>();
  list.forEach((target, i) => {
    if (!isObj(target) || typeof target.name !== 'string') return;
    const first = seen.get(target.name);
    if (first === undefined) seen.set(target.name, i);
    else
      add(
        ['spec', 'telemetry', i, 'name'],
        `already the name of spec.telemetry[${first}]: each target needs its own name (it is its folder in the run folder)`,
      );
  });
}

type Add = (path: PathSegment[], message: string) => void;

/** What the endpoint's apiFormat needs and refuses: spec.oci for oci-cohere (and only there), the APIs and scenarios it serves. */
function checkFormat(spec: Obj, scenarios: ParsedScenario[] | null, add: Add): void {
  const ep = isObj(spec.endpoint) && isObj(spec.endpoint.endpoint) ? spec.endpoint.endpoint : null;
  const fmt =
    ep !== null && (omeApiFormats as readonly unknown[]).includes(ep.apiFormat) ? ep.apiFormat : 'openai';
  if (fmt === 'oci-cohere' && spec.oci === undefined) {
    add(
      ['spec', 'oci'],
      'apiFormat oci-cohere needs spec.oci {auth: config-file or instance-principal, compartmentId} to sign its requests',
    );
  } else if (fmt !== 'oci-cohere' && spec.oci !== undefined) {
    add(['spec', 'oci'], `applies only to apiFormat oci-cohere (apiFormat is ${String(fmt)})`);
  }
  // OCI authenticates by the request's signature: a bearer key would be sent to Oracle beside it.
  if (fmt === 'oci-cohere' && spec.apiKey !== undefined) {
    add(['spec', 'apiKey'], 'apiFormat oci-cohere signs its requests (spec.oci): it sends no API key');
  }
  if (isObj(spec.oci) && spec.oci.auth === 'instance-principal') {
    for (const key of ['configFile', 'profile'] as const) {
      if (spec.oci[key] !== undefined) add(['spec', 'oci', key], 'applies only to auth config-file');
    }
  }
  if (fmt !== 'openai' && spec.api === 'completions') {
    add(['spec', 'api'], `apiFormat ${String(fmt)} has no completions API (use chat)`);
  }
  if (fmt === 'oci-cohere' && scenarios !== null && Array.isArray(spec.trafficScenarios)) {
    const list = spec.trafficScenarios as unknown[];
    for (const s of scenarios) {
      if (s.scenario.kind !== 'R') continue;
      add(
        ['spec', 'trafficScenarios', list.indexOf(s.text)],
        'rerank (R) is not served for apiFormat oci-cohere (use cohere or openai)',
      );
    }
  }
}

function checkEndpoint(spec: Obj, task: Task | undefined, add: Add): void {
  const ep = spec.endpoint;
  if (!isObj(ep)) return; // missing or mistyped: the schema says so
  const hasSvc = ep.inferenceService !== undefined;
  const hasUrl = ep.endpoint !== undefined;
  if (hasSvc && hasUrl) {
    add(['spec', 'endpoint'], 'set exactly one of inferenceService or endpoint, not both');
  } else if (!hasSvc && !hasUrl) {
    add(
      ['spec', 'endpoint'],
      'expected inferenceService{name,namespace} or endpoint{url,apiFormat,modelName}',
    );
  }
  if (!isObj(ep.endpoint)) return;
  const direct = ep.endpoint;
  const fmt = direct.apiFormat;
  if (!within(direct.url, MAX_URL_CHARS) || !/^(http|https):\/\//.test(direct.url)) return;
  const urlPath: PathSegment[] = ['spec', 'endpoint', 'endpoint', 'url'];
  let path: OpenAiPath | null;
  try {
    path = splitEndpointUrl(direct.url).path;
  } catch (error) {
    if (!(error instanceof EndpointUrlError)) throw error;
    add(urlPath, error.message);
    return;
  }
  if (path !== null && (fmt === 'cohere' || fmt === 'oci-cohere')) {
    add(urlPath, `path ${path} is OpenAI's, not apiFormat ${fmt}'s (give the server's base URL)`);
    return;
  }
  if (path === null || task === undefined) return;
  const fits = PATHS_FOR_TASK[task];
  if (!fits.includes(path)) {
    add(urlPath, `path ${path} does not serve task ${task} (expected ${fits.join(' or ')})`);
    return;
  }
  const api = task === 'text-to-text' ? spec.api : undefined; // elsewhere `api` is itself an error
  if (api === 'chat' && path !== '/v1/chat/completions') {
    add(['spec', 'api'], `api "chat" contradicts the endpoint URL path ${path}`);
  } else if (api === 'completions' && path !== '/v1/completions') {
    add(['spec', 'api'], `api "completions" contradicts the endpoint URL path ${path}`);
  }
}

/** Checks `spec.trafficScenarios`; returns the entries that parse (null when it is not a list). */
function checkScenarios(spec: Obj, task: Task | undefined, add: Add): ParsedScenario[] | null {
  const list = spec.trafficScenarios;
  if (!Array.isArray(list)) return null;
  const parsed: ParsedScenario[] = [];
  if (list.length === 0) {
    add(
      ['spec', 'trafficScenarios'],
      'must list at least one scenario (omit the field to use the task defaults)',
    );
    return parsed;
  }
  const seen = new Map<string, number>();
  list.forEach((text, i) => {
    if (!within(text, MAX_EXPRESSION_CHARS)) return;
    const path: PathSegment[] = ['spec', 'trafficScenarios', i];
    const r = parseScenario(text);
    if (!r.ok) {
      add(path, r.message);
      return;
    }
    parsed.push({ text, scenario: r.scenario });
    const first = seen.get(text);
    if (first !== undefined) {
      add(path, `duplicate of trafficScenarios[${first}] (the list is a set)`);
      return;
    }
    seen.set(text, i);
    const kind = r.scenario.kind;
    if (task !== undefined && !scenarioFitsTask(kind, task)) {
      const fit = scenarioTaskKinds[task].map((k) => KIND_FORMS[k]).join(', ');
      add(
        path,
        `a ${kind === 'dataset' ? 'dataset' : `${kind}(...)`} scenario does not fit task ${task} (expected ${fit})`,
      );
      return;
    }
    if (kind === 'dataset' && spec.datasetFile === undefined) {
      add(
        path,
        spec.dataset === undefined
          ? 'the dataset scenario needs spec.datasetFile (a local JSONL file)'
          : 'the dataset scenario needs spec.datasetFile: reading spec.dataset from storage is not supported yet (download it and set spec.datasetFile)',
      );
    }
  });
  return parsed;
}

/** A string within `max` characters (a longer one is the schema's to refuse). */
function within(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}

/** OME declares these lists `+listType=set`: reject empty lists and duplicates. */
function checkSet(list: unknown, path: PathSegment[], what: string, add: Add): void {
  if (!Array.isArray(list)) return;
  if (list.length === 0) {
    add(path, `must list at least one ${what} (omit the field instead)`);
    return;
  }
  const seen = new Map<unknown, number>();
  list.forEach((v, i) => {
    if (typeof v !== 'number') return;
    const first = seen.get(v);
    if (first !== undefined) add([...path, i], `duplicate ${what} (same as [${first}])`);
    else seen.set(v, i);
  });
}
