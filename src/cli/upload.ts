/**
 * `infermark upload RUN_DIR [URI]` and `infermark download URI RUN [DIR]`: ship a
 * sealed run folder to storage by hand (what `run` does at its end when the job
 * has an outputLocation), and fetch one back and verify it. Without a URI, upload
 * uses the run's own outputLocation; its credentials were redacted from run.json,
 * so they come from the environment, `--param NAME_file=...` or `--param`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, ValidationError } from '../base/errors.js';
import { REDACTED } from '../base/redact.js';
import { isSafeRelativePath } from '../base/safe-path.js';
import { openLocation } from '../storage/open-location.js';
import { downloadRun, uploadRunFolder, type UploadResult } from '../storage/upload.js';
import { preflightStore } from '../storage/retry-policy.js';
import { renderReport, VERIFY_PARTIAL_EXIT } from './verify.js';

export interface UploadFlags {
  param?: string[];
  folder?: string;
  json?: boolean;
  quiet?: boolean;
}

export async function uploadCommand(
  runDir: string,
  uri: string | undefined,
  flags: UploadFlags,
): Promise<number> {
  const own = await outputLocationOf(runDir, uri === undefined);
  // The same prefix as the upload `run` makes at its end, unless told otherwise.
  const target = {
    uri: uri ?? own.uri,
    parameters: uri ? {} : own.parameters,
    folder: flags.folder ?? own.folder,
  };
  if (target.folder !== undefined && !isSafeRelativePath(target.folder)) {
    throw new ValidationError([
      {
        path: '--folder',
        value: target.folder,
        message: 'expected a relative folder name (no "." or ".." parts)',
      },
    ]);
  }
  const store = await openLocation({
    uri: target.uri,
    parameters: { ...target.parameters, ...parseParams(flags.param) },
    source: { path: uri ? 'URI' : `${join(runDir, 'run.json')}: job.spec.outputLocation.storageUri` },
  });
  try {
    await preflightStore(store);
    const result = await uploadRunFolder(runDir, store, {
      ...(target.folder ? { folder: target.folder } : {}),
      onRetry: (key, attempt, error) => {
        if (!flags.quiet)
          process.stderr.write(`infermark: retrying ${key} (attempt ${attempt}): ${error.message}\n`);
      },
    });
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderUpload(result));
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

export function renderUpload(result: UploadResult): string {
  return (
    `uploaded run ${result.run_id} to ${result.store} at ${result.prefix}/: ` +
    `${result.uploaded} objects written (${result.bytes_uploaded} bytes), ${result.skipped} already there and identical\n` +
    `artifact_manifest_digest ${result.artifact_manifest_digest}\n`
  );
}

export async function downloadCommand(
  uri: string,
  runPrefix: string,
  dir: string | undefined,
  flags: { param?: string[]; json?: boolean },
): Promise<number> {
  const store = await openLocation({ uri, parameters: parseParams(flags.param), source: { path: 'URI' } });
  try {
    const prefix = runPrefix.replace(/\/+$/, '');
    if (!isSafeRelativePath(prefix)) {
      throw new ValidationError([
        { path: 'RUN', value: runPrefix, message: 'expected [folder/]<run_id> (no "." or ".." parts)' },
      ]);
    }
    const dest = dir ?? (prefix.split('/').pop() as string);
    const report = await downloadRun(store, prefix, dest);
    process.stdout.write(
      flags.json ? `${JSON.stringify(report, null, 2)}\n` : `downloaded to ${dest}\n${renderReport(report)}`,
    );
    if (report.status === 'corrupt') return ExitCode.failure;
    return report.status === 'partial' ? VERIFY_PARTIAL_EXIT : ExitCode.ok;
  } finally {
    await store.close();
  }
}

/**
 * The run's outputLocation from run.json, without the parameters that were
 * redacted; `needUri` makes a run without one an error.
 */
async function outputLocationOf(
  runDir: string,
  needUri: boolean,
): Promise<{ uri: string; parameters: Record<string, string>; folder: string | undefined }> {
  const path = join(runDir, 'run.json');
  let run: {
    job?: {
      spec?: {
        outputLocation?: { storageUri?: string; parameters?: Record<string, string> };
        resultFolderName?: string;
      };
    };
  };
  try {
    run = JSON.parse(await readFile(path, 'utf8')) as typeof run;
  } catch (error) {
    throw new ValidationError([
      {
        file: path,
        path: '',
        message: `cannot read the run (${(error as NodeJS.ErrnoException).code ?? 'not JSON'})`,
      },
    ]);
  }
  const location = run.job?.spec?.outputLocation;
  const folder = run.job?.spec?.resultFolderName;
  if (!location?.storageUri) {
    if (!needUri) return { uri: '', parameters: {}, folder };
    throw new ValidationError([
      { file: path, path: 'job.spec.outputLocation', message: 'the run has no outputLocation: give a URI' },
    ]);
  }
  const parameters = Object.fromEntries(
    Object.entries(location.parameters ?? {}).filter(([, value]) => value !== REDACTED),
  );
  return { uri: location.storageUri, parameters, folder };
}

/** `--param key=value` flags → a parameters map; a flag without `=` is an error. */
export function parseParams(flags: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const issues = [];
  for (const flag of flags ?? []) {
    const at = flag.indexOf('=');
    if (at <= 0) issues.push({ path: '--param', value: flag, message: 'expected NAME=VALUE' });
    else out[flag.slice(0, at)] = flag.slice(at + 1);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return out;
}
