/**
 * The actions of `infermark k8s …` (registered in k8s.ts): what each prints and its exit
 * code. Bad input (a job that does not validate, a bad flag) exits 2 with the same
 * messages as `infermark validate`; a cluster that cannot be reached or refuses says
 * which server and why (kube-connection.ts).
 */
import { readFile } from 'node:fs/promises';
import { ExitCode, ValidationError } from '../base/errors.js';
import { scrubText } from '../base/redact.js';
import { parseJobYaml } from '../spec/job-yaml.js';
import {
  benchmarkJobResource,
  createBenchmarkJob,
  deleteBenchmarkJob,
  mustReadBenchmarkJob,
} from '../k8s/benchmarkjob-api.js';
import { followBenchmarkJob } from '../k8s/follow.js';
import { exitCodeOf, jobView, progressLine, renderSummary } from '../k8s/job-status.js';
import { connect, type KubeConnection } from '../k8s/kube-connection.js';
import { allManifests, toYamlDocuments } from '../k8s/manifests.js';
import { SPEC_ANNOTATION } from '../k8s/names.js';
import { effectiveSpec, SpecAnnotationError } from '../k8s/spec-annotation.js';
import { mustFindRunPod, notStarted, streamPodLog } from '../k8s/pod-logs.js';
import { downloadResults, resultsLocation } from '../k8s/results.js';
import { checkJobFile, checkJobText } from './validate.js';
import { parseParams } from './upload.js';
import { renderReport, VERIFY_PARTIAL_EXIT } from './verify.js';

/** --kubeconfig, --context, -n/--namespace. */
export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** `timeout`'s exit code: the wait ended before the job did. */
export const TIMEOUT_EXIT = 124;
/** How long `--replace` waits for the old object to go (its finalizer: the controller's cleanup). */
const REPLACE_WAIT_MS = 60_000;
/** How long `logs --follow` waits for the run pod to start. */
const POD_START_WAIT_MS = 10 * 60_000;

export function manifestsCommand(flags: { image?: string; namespace: string }): number {
  process.stdout.write(
    toYamlDocuments(
      allManifests({ namespace: flags.namespace, ...(flags.image ? { image: flags.image } : {}) }),
    ),
  );
  return ExitCode.ok;
}

export interface SubmitFlags extends ClusterFlags {
  wait?: boolean;
  timeout?: string;
  replace?: boolean;
}

type Obj = Record<string, unknown>;

export async function submitCommand(file: string, flags: SubmitFlags): Promise<number> {
  const timeout_ms = parseTimeout(flags.timeout);
  let raw: Obj;
  try {
    // Exactly `infermark validate`'s checks, then the job as written (no defaults) to send.
    await checkJobFile(file);
    raw = parseJobYaml(await readFile(file, 'utf8'), file) as Obj;
    const annotations = ((raw.metadata as Obj).annotations ?? {}) as Record<string, string>;
    if (annotations[SPEC_ANNOTATION] !== undefined) {
      // An exported object: what the controller will run is the spec with the annotation over it.
      let spec: Obj;
      try {
        spec = effectiveSpec(raw.spec, annotations);
      } catch (error) {
        if (!(error instanceof SpecAnnotationError)) throw error;
        throw new ValidationError([{ file, path: '', message: error.message }]);
      }
      checkJobText(JSON.stringify({ ...raw, spec }), `${file} (with its ${SPEC_ANNOTATION} annotation)`);
    }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`${scrubText(error.message)}\n`);
    return ExitCode.badInput;
  }
  const fileNamespace = (raw.metadata as Obj).namespace as string | undefined;
  if (flags.namespace !== undefined && fileNamespace !== undefined && flags.namespace !== fileNamespace) {
    throw new ValidationError([
      {
        file,
        path: 'metadata.namespace',
        value: fileNamespace,
        message: `differs from --namespace ${JSON.stringify(flags.namespace)}: drop one, or make them agree`,
      },
    ]);
  }
  const conn = connect({ ...flags, ...(fileNamespace !== undefined ? { namespace: fileNamespace } : {}) });
  const { resource, additions } = benchmarkJobResource(raw, conn.namespace);
  const name = (resource.metadata as Obj).name as string;
  if (flags.replace) await deleteBenchmarkJob(conn, name, REPLACE_WAIT_MS);
  await createBenchmarkJob(conn, resource);
  const kept =
    additions.length > 0
      ? ` (infermark's additions in annotation ${SPEC_ANNOTATION}: ${additions.join(', ')})`
      : '';
  process.stdout.write(
    `benchmarkjob.ome.io/${name} ${flags.replace ? 'replaced' : 'created'} in namespace ${conn.namespace}${kept}\n`,
  );
  if (!flags.wait) return ExitCode.ok;
  return waitAndSummarize(conn, name, timeout_ms);
}

function parseTimeout(text: string | undefined): number | null {
  if (text === undefined) return null;
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 365 * 24 * 3600) {
    throw new ValidationError([
      { path: '--timeout', value: text, message: 'expected seconds: a number above 0, at most a year' },
    ]);
  }
  return seconds * 1000;
}

/** Follows the job with a progress line on stderr, then prints the summary on stdout. */
async function waitAndSummarize(
  conn: KubeConnection,
  name: string,
  timeout_ms: number | null,
): Promise<number> {
  const live = process.stderr.isTTY === true;
  const started = Date.now();
  const result = await followBenchmarkJob(conn, name, {
    timeout_ms,
    onRead: (view, changed) => {
      const line = progressLine(view, (Date.now() - started) / 1000);
      // A terminal redraws one line (its clock too); a log gets a line per change.
      if (live) process.stderr.write(`\r\x1b[K${line}`);
      else if (changed) process.stderr.write(`${line}\n`);
    },
  });
  if (live) process.stderr.write('\n');
  process.stdout.write(renderSummary(result.view));
  if (result.timedOut) {
    process.stderr.write(
      `infermark: timed out after ${Math.round((timeout_ms ?? 0) / 1000)} s waiting for benchmarkjob ${conn.namespace}/${name} (state ${result.view.state ?? 'none yet'}); it goes on: infermark k8s status ${name}\n`,
    );
    return TIMEOUT_EXIT;
  }
  const code = exitCodeOf(result.view.state);
  if (result.view.state === 'Failed') {
    process.stderr.write(
      `infermark: benchmarkjob ${conn.namespace}/${name} failed: ${result.view.failureMessage ?? result.view.outcomeReason ?? 'no reason given'}\n`,
    );
  }
  return code;
}

export async function statusCommand(name: string, flags: ClusterFlags & { json?: boolean }): Promise<number> {
  const conn = connect(flags);
  const resource = await mustReadBenchmarkJob(conn, name);
  if (flags.json) {
    const metadata = resource.metadata as Obj;
    const out = {
      name: metadata.name,
      namespace: metadata.namespace,
      uid: metadata.uid,
      creationTimestamp: metadata.creationTimestamp,
      status: resource.status ?? {},
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(renderSummary(jobView(resource)));
  }
  return ExitCode.ok;
}

export async function logsCommand(name: string, flags: ClusterFlags & { follow?: boolean }): Promise<number> {
  const conn = connect(flags);
  let pod = await mustFindRunPod(conn, name);
  if (notStarted(pod)) {
    const podName = pod.metadata?.name ?? '?';
    if (!flags.follow) {
      process.stderr.write(
        `infermark: pod ${conn.namespace}/${podName} has not started yet (${pod.status?.phase ?? 'Pending'}): no log to read; --follow waits for it\n`,
      );
      return ExitCode.failure;
    }
    process.stderr.write(`infermark: waiting for pod ${conn.namespace}/${podName} to start\n`);
    const deadline = Date.now() + POD_START_WAIT_MS;
    while (notStarted(pod) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      pod = await mustFindRunPod(conn, name);
    }
  }
  await streamPodLog(conn, pod.metadata?.name ?? '', { follow: flags.follow === true, out: process.stdout });
  return ExitCode.ok;
}

export async function resultsCommand(
  name: string,
  flags: ClusterFlags & { out?: string; param?: string[]; json?: boolean },
): Promise<number> {
  const extra = parseParams(flags.param);
  const conn = connect(flags);
  const resource = await mustReadBenchmarkJob(conn, name);
  const location = resultsLocation(resource);
  const dest = flags.out ?? (location.run.split('/').pop() as string);
  const report = await downloadResults(location, dest, extra);
  // The run in the store must be the one the runner reported, not only a whole one.
  const reported = (resource.status as Obj | undefined)?.artifactManifestDigest;
  const mismatch =
    typeof reported === 'string' &&
    report.artifact_manifest_digest !== null &&
    report.artifact_manifest_digest !== reported;
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ results: `${location.storeUri}/${location.run}`, dir: dest, ...report }, null, 2)}\n`
      : `downloaded ${location.storeUri}/${location.run} to ${dest}\n${renderReport(report)}`,
  );
  if (mismatch) {
    process.stderr.write(
      `infermark: the downloaded run's artifact_manifest_digest ${String(report.artifact_manifest_digest)} is not the one benchmarkjob ${conn.namespace}/${name} reports (${reported})\n`,
    );
    return ExitCode.failure;
  }
  if (report.status === 'corrupt') {
    process.stderr.write(`infermark: the run folder in ${dest} does not verify\n`);
    return ExitCode.failure;
  }
  if (report.status === 'partial') return VERIFY_PARTIAL_EXIT;
  if (!flags.json) process.stdout.write(`verified: ${dest} is the whole run, as sealed\n`);
  return ExitCode.ok;
}
