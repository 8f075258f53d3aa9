/**
 * Where a job's requests go: an OME endpoint (InferenceService reference or direct URL)
 * resolved to a base URL, the OpenAI path if the URL names one, and the model name.
 */
import { ValidationError } from '../base/errors.js';
import type { BenchmarkJob, omeApiFormats } from './job-schema.js';

/** An OME apiFormat: `openai`, `cohere` or `oci-cohere`. */
export type ApiFormat = (typeof omeApiFormats)[number];

/** The OpenAI-compatible paths infermark speaks; a URL ending in one of them fixes the protocol. */
export const openAiPaths = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;

/** One of `openAiPaths`. */
export type OpenAiPath = (typeof openAiPaths)[number];

/** A resolved endpoint: requests go to `baseUrl + path` (path chosen by the task when null). */
export interface ResolvedEndpoint {
  /** Origin plus any path prefix; never ends in `/` or `/v1`, so `/v1/...` can be appended. */
  baseUrl: string;
  /** The OpenAI path the URL named, or null when it named none. */
  path: OpenAiPath | null;
  model: string;
  /** The job's apiFormat (an InferenceService, and a URL from the command line alone, speak openai). */
  apiFormat: ApiFormat;
}

/** Thrown by splitEndpointUrl for a URL that cannot be used; the message says why. */
export class EndpointUrlError extends Error {}

/**
 * Split a URL into base and OpenAI path: `http://h:8080/v1/completions` →
 * `{ baseUrl: 'http://h:8080', path: '/v1/completions' }`; `https://h/proxy/v1` →
 * `{ baseUrl: 'https://h/proxy', path: null }` (a trailing `/v1` is the OpenAI SDK's
 * base-URL convention, and keeping it would double it).
 */
export function splitEndpointUrl(url: string): { baseUrl: string; path: OpenAiPath | null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EndpointUrlError('not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new EndpointUrlError('must start with http:// or https://');
  }
  if (parsed.username || parsed.password) {
    throw new EndpointUrlError('credentials in the URL are not supported: use spec.apiKey');
  }
  if (parsed.search || parsed.hash) {
    throw new EndpointUrlError('query strings and fragments are not supported in the endpoint URL');
  }
  const pathname = parsed.pathname.replace(/\/+$/, '');
  for (const p of openAiPaths) {
    if (pathname.endsWith(p)) {
      return { baseUrl: parsed.origin + pathname.slice(0, -p.length), path: p };
    }
  }
  return { baseUrl: parsed.origin + pathname.replace(/\/v1$/, ''), path: null };
}

/** Cluster-internal URL of an OME InferenceService. */
export function inferenceServiceUrl(name: string, namespace: string): string {
  return `http://${name}.${namespace}.svc.cluster.local`;
}

/**
 * Resolve a job's endpoint. `override.url` replaces the job's URL (for runs outside the
 * cluster, where `*.svc.cluster.local` does not resolve); `override.model` replaces the model.
 * An InferenceService's model defaults to the service name.
 * @throws ValidationError when the override URL is unusable or no model name is known.
 */
export function resolveEndpoint(
  job: BenchmarkJob,
  override: { url?: string; model?: string } = {},
): ResolvedEndpoint {
  const { inferenceService, endpoint } = job.spec.endpoint;
  let split: { baseUrl: string; path: OpenAiPath | null };
  if (override.url !== undefined) {
    try {
      split = splitEndpointUrl(override.url);
    } catch (error) {
      if (!(error instanceof EndpointUrlError)) throw error;
      throw new ValidationError([
        { file: 'command line', path: '--url', value: override.url, message: error.message },
      ]);
    }
  } else if (endpoint) {
    // Already validated by job-rules.ts, so this cannot throw for a validated job.
    split = splitEndpointUrl(endpoint.url);
  } else if (inferenceService) {
    split = { baseUrl: inferenceServiceUrl(inferenceService.name, inferenceService.namespace), path: null };
  } else {
    throw new ValidationError([
      { path: 'spec.endpoint', message: 'no endpoint: expected inferenceService or endpoint' },
    ]);
  }
  const model = override.model ?? endpoint?.modelName ?? inferenceService?.name;
  if (model === undefined) {
    throw new ValidationError([
      {
        path: 'spec.endpoint.endpoint.modelName',
        message: `the model name is required for apiFormat ${endpoint?.apiFormat ?? 'openai'} (set modelName or pass --model)`,
      },
    ]);
  }
  return { ...split, model, apiFormat: endpoint?.apiFormat ?? 'openai' };
}
