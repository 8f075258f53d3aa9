/**
 * BenchmarkJob objects through the API server, for `infermark k8s …`: the resource built
 * from a job file (infermark's additions moved into the `infermark.io/spec` annotation so
 * OME's narrower CRD cannot prune them), and create, read and delete as custom objects
 * (they pass through as JSON: no typed model drops a field).
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { isApiError, kubeError, type KubeConnection } from './kube-connection.js';
import { API_VERSION, GROUP, KIND, PLURAL, SPEC_ANNOTATION, VERSION } from './names.js';
import { effectiveSpec, splitAdditions } from './spec-annotation.js';

type Obj = Record<string, unknown>;

export interface BuiltResource {
  resource: Obj;
  /** The spec fields that went into the annotation. */
  additions: string[];
}

/**
 * The object to create from a validated job as written (no defaults filled in: the stored
 * object stays as the user wrote it). Only name, namespace, labels and annotations of the
 * metadata are kept: a job exported with kubectl carries a uid and resourceVersion that a
 * create refuses; its status is dropped too. An annotation the file already has is merged
 * over its spec first, then split again, so resubmitting an exported object round-trips.
 */
export function benchmarkJobResource(raw: Obj, namespace: string): BuiltResource {
  const metadata = (raw.metadata ?? {}) as Obj;
  const annotations = { ...((metadata.annotations ?? {}) as Record<string, string>) };
  const { spec, additions } = splitAdditions(effectiveSpec(raw.spec, annotations));
  delete annotations[SPEC_ANNOTATION];
  if (Object.keys(additions).length > 0) annotations[SPEC_ANNOTATION] = JSON.stringify(additions);
  return {
    resource: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name: metadata.name,
        namespace,
        ...(metadata.labels ? { labels: metadata.labels } : {}),
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      },
      spec,
    },
    additions: Object.keys(additions),
  };
}

const where = (conn: KubeConnection, name: string, namespace = conn.namespace): string =>
  `benchmarkjob ${namespace}/${name}`;

function api(conn: KubeConnection): CustomObjectsApi {
  return conn.kc.makeApiClient(CustomObjectsApi);
}

/** The object, or null when there is none of that name. */
export async function readBenchmarkJob(conn: KubeConnection, name: string): Promise<Obj | null> {
  try {
    return (await api(conn).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: conn.namespace,
      plural: PLURAL,
      name,
    })) as Obj;
  } catch (error) {
    if (isApiError(error, 404) && /not found/.test(String((error as { body?: unknown }).body))) return null;
    throw kubeError(conn, `reading ${where(conn, name)}`, error);
  }
}

/** The object, or an error naming it when there is none (exit 2: the user named it). */
export async function mustReadBenchmarkJob(conn: KubeConnection, name: string): Promise<Obj> {
  const found = await readBenchmarkJob(conn, name);
  if (found) return found;
  throw new InfermarkError(
    'E_NOT_FOUND',
    `no ${where(conn, name)} at ${conn.server} (context "${conn.context}"): check the name and -n/--namespace`,
    ExitCode.badInput,
  );
}

export class AlreadyExistsError extends InfermarkError {}

export async function createBenchmarkJob(conn: KubeConnection, resource: Obj): Promise<Obj> {
  const name = (resource.metadata as Obj).name as string;
  try {
    return (await api(conn).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: conn.namespace,
      plural: PLURAL,
      body: resource,
    })) as Obj;
  } catch (error) {
    if (isApiError(error, 409)) {
      throw new AlreadyExistsError(
        'E_EXISTS',
        `${where(conn, name)} already exists: pass --replace to delete it and submit this one, pick another metadata.name, or delete it (kubectl delete benchmarkjob ${name} -n ${conn.namespace})`,
        ExitCode.badInput,
      );
    }
    throw kubeError(conn, `creating ${where(conn, name)}`, error);
  }
}

/**
 * Deletes the object (foreground: its Jobs and pods go first) and waits until it is gone,
 * at most `timeout_ms`: the controller's finalizer holds it until its Jobs are deleted.
 */
export async function deleteBenchmarkJob(
  conn: KubeConnection,
  name: string,
  timeout_ms: number,
): Promise<void> {
  try {
    await api(conn).deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: conn.namespace,
      plural: PLURAL,
      name,
      propagationPolicy: 'Foreground',
    });
  } catch (error) {
    if (isApiError(error, 404)) return;
    throw kubeError(conn, `deleting ${where(conn, name)}`, error);
  }
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    if ((await readBenchmarkJob(conn, name)) === null) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new InfermarkError(
    'E_K8S_DELETE_TIMEOUT',
    `${where(conn, name)} is still being deleted after ${Math.round(timeout_ms / 1000)} s (its finalizers wait for the controller: is it running?)`,
  );
}
