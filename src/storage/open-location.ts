/**
 * From a storage URI and its parameters to an open store: the URI is parsed
 * (a bad one is a validation error naming the field) and the scheme's module is
 * loaded. For URIs given on the command line (`upload`, `download`); a job's
 * outputLocation comes parsed with the validated job, and `run` opens it with openStore.
 */
import { ValidationError } from '../base/errors.js';
import { parseStorageUri } from '../spec/storage-uri.js';
import type { ObjectStore } from './object-store.js';
import { openStore } from './registry.js';

export interface LocationInput {
  uri: string;
  parameters?: Record<string, string>;
  /** Where the URI came from, for errors: `job.yaml: spec.outputLocation.storageUri` or `URI`. */
  source: { file?: string; path: string };
  env?: Record<string, string | undefined>;
}

export async function openLocation(input: LocationInput): Promise<ObjectStore> {
  const parsed = parseStorageUri(input.uri);
  if (!parsed.ok) {
    throw new ValidationError([
      {
        ...(input.source.file ? { file: input.source.file } : {}),
        path: input.source.path,
        value: input.uri,
        message: parsed.message,
      },
    ]);
  }
  return openStore({
    location: parsed.location,
    parameters: input.parameters ?? {},
    env: input.env ?? process.env,
  });
}
