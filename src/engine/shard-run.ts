/**
 * A worker's run: one shard of a coordinated run. It measures its clock against the
 * coordinator's, says hello, and runs the job as any run, into its shard folder, each
 * iteration started by the coordinator (see run.ts `shard`); then it says it ended.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { ValidatedJob } from '../spec/validated-job.js';
import { executeRun, type RunResult } from './run.js';
import type { CoordinatorClient } from './shard-client.js';
import type { ShardJobAnswer } from './shard-protocol.js';
import type { RunEvents } from '../metrics/run-events.js';
import { concurrencyBucket } from '../telemetry/hot-labels.js';
import { HotTotals } from '../telemetry/hot-totals.js';
import type { JobFileProvenance } from '../evidence/job-provenance.js';
import type { KubernetesIdentity } from '../evidence/kubernetes-identity.js';

export interface ShardRunInputs {
  client: CoordinatorClient;
  /** What the coordinator served (GET job). */
  answer: ShardJobAnswer;
  /** The served job, validated by the worker. */
  job: ValidatedJob;
  apiKey?: string;
  signal?: AbortSignal;
  /** Where a worker that ships its folder writes it first (default: the temporary folder). */
  localRoot?: string;
  /** The shard's pod, when it runs in one (recorded in its folder's run.json). */
  kubernetes?: KubernetesIdentity | null;
}

export async function runShard(inputs: ShardRunInputs): Promise<RunResult> {
  const { client, answer, job } = inputs;
  const clock = await client.clockOffset();
  const identity = await client.hello(clock);
  // A worker on another file system writes its folder locally and ships it (a pod).
  const dir = answer.ship_files
    ? // Its own folder: several workers of one run may share a machine's temporary folder.
      join(
        inputs.localRoot ?? tmpdir(),
        `infermark-shard-${answer.run_id}-${answer.segment.index}-${process.pid}`,
        basename(answer.dir),
      )
    : answer.dir;
  if (answer.ship_files) client.shipFrom(dir);
  const parent = dirname(dir);
  const result = await executeRun({
    job,
    jobFile: answer.job_file,
    jobProvenance: answer.job_provenance as JobFileProvenance | null,
    endpoint: { ...answer.endpoint, apiFormat: 'openai' },
    ...(inputs.apiKey ? { apiKey: inputs.apiKey } : {}),
    outRoot: parent,
    ...(inputs.signal ? { signal: inputs.signal } : {}),
    ...(inputs.kubernetes ? { kubernetes: inputs.kubernetes } : {}),
    group: { ...answer.group, dir: parent },
    events: shardEvents(client, answer.hot_metrics === true),
    shard: {
      segment: answer.segment,
      runId: answer.run_id,
      dir,
      identity,
      gate: client.gate(answer.ready_timeout_ms, inputs.signal),
      ...(answer.scraped_by_coordinator ? { scrapedByCoordinator: answer.scraped_by_coordinator } : {}),
    },
  });
  try {
    await client.end(result.status, result.artifactManifestDigest);
  } catch (error) {
    // Stopped because the coordinator is gone: the folder is sealed, which is what counts.
    if (!inputs.signal?.aborted) throw error;
    return result;
  }
  // Shipped whole and acknowledged: the coordinator holds the evidence; the local copy goes.
  if (answer.ship_files) await rm(parent, { recursive: true, force: true });
  return result;
}

/**
 * The coordinator's view shows the sum of every shard's live counts; when it serves hot
 * metrics, each progress also carries this shard's totals of the iteration's bucket
 * (cumulative, so the coordinator keeps the latest). Without, no record is looked at.
 */
function shardEvents(client: CoordinatorClient, hotMetrics: boolean): RunEvents {
  if (!hotMetrics) return { onProgress: (plan, snapshot) => client.progress(plan.index, snapshot) };
  const totals = new HotTotals();
  return {
    onIterationStart: (plan) => totals.startIteration(plan),
    onRecord: (plan, record) => totals.record(plan, record),
    onProgress: (plan, snapshot) =>
      client.progress(plan.index, snapshot, totals.wire(concurrencyBucket(plan))),
  };
}
