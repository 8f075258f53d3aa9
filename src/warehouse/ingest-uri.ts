/**
 * Ingest of a run that lives in a store: `s3://bucket/results/[folder/]<run_id>`
 * (any scheme but github, whose releases have no folders). The run is downloaded
 * to a temporary folder and verified, ingested with the store as its raw evidence
 * location, and the temporary copy removed: the store is the unit of record.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { formatStorageUri, parseStorageUri, type StorageLocation } from '../spec/storage-uri.js';
import { openLocation } from '../storage/open-location.js';
import { downloadRun } from '../storage/upload.js';
import { ingestRunFolder, type IngestOptions, type IngestResult } from './ingest-run.js';
import type { Warehouse } from './warehouse.js';

/** Whether an ingest argument names a store rather than a local folder. */
export function isStoreUri(text: string): boolean {
  const parsed = parseStorageUri(text);
  return parsed.ok && parsed.location.scheme !== 'file';
}

export async function ingestFromStore(
  warehouse: Warehouse,
  uri: string,
  options: IngestOptions & { parameters?: Record<string, string> } = {},
): Promise<IngestResult> {
  const { storeUri, runId } = splitRunUri(uri);
  const store = await openLocation({
    uri: storeUri,
    parameters: options.parameters ?? {},
    source: { path: 'URI' },
  });
  const dir = await mkdtemp(join(tmpdir(), 'infermark-ingest-'));
  try {
    const report = await downloadRun(store, runId, join(dir, runId));
    if (report.status === 'corrupt') {
      const first = report.problems.map((p) => `${p.path}: ${p.problem}`).slice(0, 3);
      throw new InfermarkError(
        'E_NOT_VERIFIED',
        `${uri}: not ingested: it does not verify (${first.join('; ')})`,
        ExitCode.badInput,
      );
    }
    return await ingestRunFolder(warehouse, join(dir, runId), {
      ...options,
      rawUris: [storeUri, ...(options.rawUris ?? [])],
      recordFolder: false,
    });
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `s3://bucket/results/<run_id>` → the store `s3://bucket/results` and the run `<run_id>`. */
function splitRunUri(uri: string): { storeUri: string; runId: string } {
  const parsed = parseStorageUri(uri);
  if (!parsed.ok) throw new InfermarkError('E_BAD_URI', `${uri}: ${parsed.message}`, ExitCode.badInput);
  const location = parsed.location;
  const path = pathOf(location);
  const cut = path.lastIndexOf('/');
  const runId = path.slice(cut + 1);
  if (location.scheme === 'github' || runId === '') {
    throw new InfermarkError(
      'E_BAD_URI',
      `${uri}: expected a run in a store, <uri>/[folder/]<run_id> (for github:// releases use \`infermark download\`, then ingest the folder)`,
      ExitCode.badInput,
    );
  }
  return { storeUri: formatStorageUri(withPath(location, cut < 0 ? '' : path.slice(0, cut))), runId };
}

function pathOf(location: StorageLocation): string {
  if (location.scheme === 'pvc') return location.path;
  if (location.scheme === 'github' || location.scheme === 'file') return '';
  return location.prefix;
}

function withPath(location: StorageLocation, path: string): StorageLocation {
  if (location.scheme === 'pvc') return { ...location, path };
  if (location.scheme === 'github' || location.scheme === 'file') return location;
  return { ...location, prefix: path };
}
