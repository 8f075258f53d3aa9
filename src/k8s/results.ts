/**
 * `infermark k8s results NAME`: where a BenchmarkJob's run folder was uploaded
 * (`status.results`, the run folder's URI in its outputLocation) and fetching it with the
 * project's storage layer, verified as `infermark download` does. The store is the job's
 * outputLocation.storageUri when the results URI lies under it (its parameters, without
 * secrets, come along), else the URI's parent folder; the run is the rest of the path.
 */
import { InfermarkError, ValidationError } from '../base/errors.js';
import { REDACTED } from '../base/redact.js';
import type { VerifyReport } from '../evidence/verify.js';
import { isSafeRelativePath } from '../base/safe-path.js';
import { openLocation } from '../storage/open-location.js';
import { downloadRun } from '../storage/upload.js';
import { effectiveSpec } from './spec-annotation.js';

type Obj = Record<string, unknown>;

export interface ResultsLocation {
  /** The store's URI. */
  storeUri: string;
  /** The run within it: `[folder/]<run_id>`. */
  run: string;
  /** outputLocation.parameters that are not secrets. */
  parameters: Record<string, string>;
}

/** Where the run folder of `resource` is, from its status and its outputLocation. */
export function resultsLocation(resource: Obj): ResultsLocation {
  const metadata = (resource.metadata ?? {}) as Obj;
  const name = String(metadata.name);
  const status = (resource.status ?? {}) as Obj;
  const results = status.results;
  if (typeof results !== 'string' || results === '') {
    const state = typeof status.state === 'string' ? status.state : 'no status yet';
    throw new InfermarkError(
      'E_NO_RESULTS',
      `benchmarkjob ${String(metadata.namespace)}/${name} has no results yet (state ${state}): the runner writes status.results once the run folder is uploaded`,
    );
  }
  let spec: Obj = {};
  try {
    spec = effectiveSpec(resource.spec, metadata.annotations as Record<string, string> | undefined);
  } catch {
    // A broken annotation: the results URI alone still says where the run is.
  }
  const output = (spec.outputLocation ?? {}) as { storageUri?: unknown; parameters?: unknown };
  const base = typeof output.storageUri === 'string' ? output.storageUri.replace(/\/+$/, '') : '';
  const parameters = Object.fromEntries(
    Object.entries((output.parameters ?? {}) as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== REDACTED,
    ),
  );
  const trimmed = results.replace(/\/+$/, '');
  let storeUri: string;
  let run: string;
  if (base !== '' && trimmed.startsWith(`${base}/`)) {
    storeUri = base;
    run = trimmed.slice(base.length + 1);
  } else {
    const at = trimmed.lastIndexOf('/');
    storeUri = at > 0 ? trimmed.slice(0, at) : '';
    run = trimmed.slice(at + 1);
  }
  if (storeUri === '' || !isSafeRelativePath(run) || /^[a-z][a-z0-9+.-]*:\/*$/i.test(storeUri)) {
    throw new ValidationError([
      {
        path: `benchmarkjob ${name}: status.results`,
        value: results,
        message: 'expected the URI of a run folder: STORAGE_URI/[folder/]<run_id>',
      },
    ]);
  }
  return { storeUri, run, parameters: base !== '' && storeUri === base ? parameters : {} };
}

/** Downloads the run folder to `dest` and verifies it. */
export async function downloadResults(
  location: ResultsLocation,
  dest: string,
  extraParameters: Record<string, string>,
): Promise<VerifyReport> {
  const store = await openLocation({
    uri: location.storeUri,
    parameters: { ...location.parameters, ...extraParameters },
    source: { path: 'status.results' },
  });
  try {
    return await downloadRun(store, location.run, dest);
  } finally {
    await store.close();
  }
}
