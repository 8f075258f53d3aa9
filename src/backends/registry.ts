/**
 * Every protocol adapter by kind: one line per kind, the factory that makes it. The engine
 * creates its backend here; a new API format is its module plus its lines.
 */
import type { Backend, BackendKind, BackendOptions } from './backend.js';
import { createCohereBackend } from './cohere.js';
import { createOciCohereBackend } from './oci-cohere.js';
import { createBackend as createOpenAIBackend } from './openai.js';

export type BackendFactory = (kind: BackendKind, options: BackendOptions) => Backend;

export const BACKENDS: Readonly<Record<BackendKind, BackendFactory>> = Object.freeze({
  'openai-chat': createOpenAIBackend,
  'openai-completions': createOpenAIBackend,
  'openai-embeddings': createOpenAIBackend,
  'cohere-chat': createCohereBackend,
  'cohere-embed': createCohereBackend,
  'oci-cohere-chat': createOciCohereBackend,
  'oci-cohere-embed': createOciCohereBackend,
});

/** Every kind, in the registry's order. */
export const BACKEND_KINDS = Object.keys(BACKENDS) as BackendKind[];

/** Create the adapter for `kind`. The backend owns a connection pool; call `close()` when done. */
export function createBackend(kind: BackendKind, options: BackendOptions): Backend {
  const factory = BACKENDS[kind] as BackendFactory | undefined;
  if (factory === undefined) throw new TypeError(`unknown backend kind: ${String(kind)}`);
  return factory(kind, options);
}
