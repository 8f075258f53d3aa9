/**
 * The run pod's logs through the API server (`infermark k8s logs NAME`): the pod is found by
 * its labels (`infermark.io/benchmarkjob=NAME`, `infermark.io/role=run`; the newest when a
 * replaced job left an older one), and `pods/log` is streamed to the caller as it arrives
 * (nothing is held in memory; an error answer is read up to 64 KiB).
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ApiException, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { kubeError, type KubeConnection } from './kube-connection.js';
import { CONTAINER, LABEL_JOB, LABEL_ROLE, ROLE_RUN } from './names.js';

const MAX_ERROR_BODY_BYTES = 64 * 1024;

export const runPodSelector = (job: string): string => `${LABEL_JOB}=${job},${LABEL_ROLE}=${ROLE_RUN}`;

/** The run pod of BenchmarkJob `job`, or null when there is none (yet). */
export async function findRunPod(conn: KubeConnection, job: string): Promise<V1Pod | null> {
  let pods: V1Pod[];
  try {
    const list = await conn.kc.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: conn.namespace,
      labelSelector: runPodSelector(job),
    });
    pods = list.items;
  } catch (error) {
    throw kubeError(conn, `listing the run pods of benchmarkjob ${conn.namespace}/${job}`, error);
  }
  const created = (pod: V1Pod): number => pod.metadata?.creationTimestamp?.getTime() ?? 0;
  return pods.sort((a, b) => created(b) - created(a))[0] ?? null;
}

/** The run pod, or an error saying there is none yet. */
export async function mustFindRunPod(conn: KubeConnection, job: string): Promise<V1Pod> {
  const pod = await findRunPod(conn, job);
  if (pod) return pod;
  throw new InfermarkError(
    'E_NO_POD',
    `benchmarkjob ${conn.namespace}/${job} has no run pod (label ${runPodSelector(job)}) yet: is the controller running? (infermark k8s status ${job})`,
  );
}

/** True while the pod's container has not started, so it has no log to read. */
export const notStarted = (pod: V1Pod): boolean => (pod.status?.phase ?? 'Pending') === 'Pending';

/**
 * Streams the `benchmark` container's log to `out` until the server ends it (with `follow`,
 * when the container exits). An API error (pod gone, container not started) is thrown as
 * the API server's message.
 */
export async function streamPodLog(
  conn: KubeConnection,
  pod: string,
  options: { follow: boolean; out: NodeJS.WritableStream },
): Promise<void> {
  const url = new URL(
    `${conn.server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(conn.namespace)}/pods/${encodeURIComponent(pod)}/log`,
  );
  url.searchParams.set('container', CONTAINER);
  if (options.follow) url.searchParams.set('follow', 'true');
  const requestOptions: RequestOptions = { method: 'GET', headers: {} };
  try {
    await conn.kc.applyToHTTPSOptions(requestOptions);
  } catch (error) {
    throw kubeError(conn, `reading the log of pod ${conn.namespace}/${pod}`, error);
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  try {
    await new Promise<void>((resolve, reject) => {
      const req = send(url, requestOptions, (res: IncomingMessage) => {
        res.on('error', reject);
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (body.length < MAX_ERROR_BODY_BYTES) body += chunk;
            else res.destroy();
          });
          const fail = (): void =>
            reject(
              new ApiException(res.statusCode ?? 0, 'pods/log', body.slice(0, MAX_ERROR_BODY_BYTES), {}),
            );
          res.on('end', fail);
          res.on('close', fail);
          return;
        }
        res.on('end', resolve);
        res.pipe(options.out, { end: false });
      });
      req.on('error', reject);
      req.end();
    });
  } catch (error) {
    const wrapped = kubeError(conn, `reading the log of pod ${conn.namespace}/${pod}`, error);
    throw new InfermarkError(wrapped.code, wrapped.message, ExitCode.failure);
  }
}
