/**
 * `infermark shard --coordinator URL --shard I`: a worker of a split run (docs/shards.md),
 * started by the coordinator (`run --workers N`, or a pod). It fetches the job from the
 * coordinator, validates it as any job, and runs its shard into the folder it is given.
 * The first Ctrl-C ends the current iteration (kept and sealed); later ones are ignored,
 * so the coordinator passing a terminal's Ctrl-C on cannot cut the seal short.
 */
import { resolveApiKey } from '../backends/api-key.js';
import { ExitCode, InfermarkError, ValidationError } from '../base/errors.js';
import { CoordinatorClient } from '../engine/shard-client.js';
import { COORDINATOR_TOKEN_ENV } from '../engine/shard-protocol.js';
import { runShard } from '../engine/shard-run.js';
import { formatPath } from '../spec/field-path.js';
import { toValidationIssues } from '../spec/job-issues.js';
import { validateJob } from '../spec/job-validate.js';
import { registerSecret } from '../base/redact.js';
import { identityFromEnv, runnerTarget } from '../k8s/runner-identity.js';

export async function shardCommand(flags: {
  coordinator: string;
  shard: string;
  stopWithParent?: boolean;
}): Promise<number> {
  // First of all: a Ctrl-C while the job is fetched must end the shard as interrupted, not kill it.
  const abort = new AbortController();
  process.on('SIGINT', () => abort.abort());
  process.on('SIGTERM', () => abort.abort());
  process.on('SIGHUP', () => abort.abort());
  // A worker whose parent is gone (killed, crashed) ends its iteration and seals, rather than
  // loading the server for nobody: its stdin is a pipe from the parent, closed when it dies.
  if (flags.stopWithParent) {
    process.stdin.on('end', () => abort.abort());
    process.stdin.on('close', () => abort.abort());
    process.stdin.resume();
    (process.stdin as { unref?: () => void }).unref?.();
  }
  const token = process.env[COORDINATOR_TOKEN_ENV];
  // Read once and kept out of sight: no child of this process, log or error can carry it.
  delete process.env[COORDINATOR_TOKEN_ENV];
  if (token) registerSecret(token);
  const index = Number(flags.shard);
  if (!token || !Number.isInteger(index) || index < 0) {
    throw new InfermarkError(
      'E_SHARD_ARGS',
      `a shard needs --shard <index ≥ 0> (got ${flags.shard}) and ${COORDINATOR_TOKEN_ENV} in its environment`,
      ExitCode.badInput,
    );
  }
  // In a shard pod, spec.cancel ends this shard's iteration as its Ctrl-C does (only a pod loads the client).
  const cancelWatch = runnerTarget(process.env)
    ? (await import('../k8s/runner.js')).watchJobCancel(process.env, () => abort.abort())
    : null;
  try {
    return await runTheShard(flags.coordinator, index, token, abort.signal);
  } finally {
    cancelWatch?.stop();
  }
}

async function runTheShard(
  coordinator: string,
  index: number,
  token: string,
  signal: AbortSignal,
): Promise<number> {
  const client = new CoordinatorClient(coordinator, index, token);
  // A shard pod may start before its coordinator's pod listens: it waits for it (bounded).
  const answer = await client.job({ signal });
  const validated = validateJob(answer.job);
  if (!validated.ok) {
    // A worker of another version than its coordinator reads the job differently: said plainly.
    throw new ValidationError(
      toValidationIssues(validated.issues, answer.job, `the coordinator's job (${coordinator})`, formatPath),
    );
  }
  const apiKey = await resolveApiKey(
    validated.job.spec.apiKey,
    process.env,
    validated.job.spec.endpoint.endpoint?.apiFormat ?? 'openai',
  );
  const result = await runShard({
    client,
    answer,
    job: validated.job,
    ...(apiKey ? { apiKey } : {}),
    signal,
    kubernetes: identityFromEnv(process.env),
  });
  return result.interrupted ? ExitCode.interrupted : ExitCode.ok;
}
