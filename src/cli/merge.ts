/**
 * `infermark merge RUN_DIR`: writes a split run's merged folder from its shard folders
 * (engine/merge-run.ts, docs/shards.md) and prints it as `run` prints a run: the summary
 * table (or JSON), the run folder and its artifact_manifest_digest. Exit codes as `run`:
 * 0 complete, 1 failed (a shard lost: the reason is printed), 130 interrupted, 2 when
 * the folder cannot be merged. A folder already merged and sealed is left as it is.
 */
import { ExitCode } from '../base/errors.js';
import { scrubText } from '../base/redact.js';
import { mergeRunFolder, type MergeResult } from '../engine/merge-run.js';
import { renderSummaryTable } from '../report/summary-table.js';

export async function mergeCommand(dir: string, flags: { json?: boolean }): Promise<number> {
  const result = await mergeRunFolder(dir);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(mergeJsonOf(result), null, 2)}\n`);
  } else {
    process.stdout.write(
      `\n${renderSummaryTable(result.summaries, { color: process.stdout.isTTY === true, width: process.stdout.columns ?? 160 })}\n`,
    );
    process.stdout.write(
      `\nrun ${result.runId}${result.status === 'complete' ? '' : ` (${result.status})`}` +
        `${result.alreadyMerged ? ' (already merged: left as it is)' : ''}\nrun folder: ${result.dir}\n` +
        `artifact_manifest_digest ${result.artifactManifestDigest}\n`,
    );
  }
  if (result.status === 'failed') {
    process.stderr.write(
      `infermark: run failed: ${scrubText(result.failure?.reason ?? 'no reason recorded')}\n` +
        `infermark: the run is sealed and kept (status failed): ${result.dir}\n`,
    );
    return ExitCode.failure;
  }
  return result.status === 'interrupted' ? ExitCode.interrupted : ExitCode.ok;
}

/** The merged run as `--json` prints it (the fields `run --json` prints for a run). */
function mergeJsonOf(result: MergeResult): Record<string, unknown> {
  return {
    run_id: result.runId,
    dir: result.dir,
    benchmark_case_id: result.benchmarkCaseId,
    artifact_manifest_digest: result.artifactManifestDigest,
    status: result.status,
    failure: result.failure,
    already_merged: result.alreadyMerged,
    iterations: result.summaries,
  };
}
