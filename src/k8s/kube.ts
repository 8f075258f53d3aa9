/**
 * The Kubernetes API as the controller and the CLI use it: one KubeConfig, the typed APIs,
 * and the few facts about an ApiException the callers act on (404, 409).
 */
import {
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { scrubText } from '../base/redact.js';

export interface KubeApis {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  rbac: RbacAuthorizationV1Api;
}

/** One API call, at most: a hung connection must not stall a reconcile or a Lease renewal. */
export const API_CALL_TIMEOUT_MS = 10_000;

/**
 * The typed APIs over one configuration whose every request carries a deadline (the
 * client's own makeApiClient sets none). Watches are separate (informers) and unaffected.
 */
export function kubeApis(kc: KubeConfig, timeoutMs = API_CALL_TIMEOUT_MS): KubeApis {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [
      {
        pre: (context) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          return Promise.resolve(context);
        },
        post: (response) => Promise.resolve(response),
      },
    ],
  });
  return {
    kc,
    core: new CoreV1Api(config),
    batch: new BatchV1Api(config),
    custom: new CustomObjectsApi(config),
    coordination: new CoordinationV1Api(config),
    rbac: new RbacAuthorizationV1Api(config),
  };
}

/** KUBECONFIG or ~/.kube/config, else the pod's own (in-cluster); `path` and `context` override. */
export function loadKubeConfig(options: { path?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.path) kc.loadFromFile(options.path);
  else kc.loadFromDefault();
  if (options.context) kc.setCurrentContext(options.context);
  return kc;
}

/** Options for a JSON merge patch (RFC 7386): a field set to null is removed. */
export const mergePatch = (): ReturnType<typeof setHeaderOptions> =>
  setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The HTTP status of a failed API call; undefined for a transport error. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown): boolean => statusOf(error) === 404;
export const isConflict = (error: unknown): boolean => statusOf(error) === 409;

/**
 * A failed call in one line, secret-free: the Status message the server sent with its code,
 * or the transport's reason; never headers or bodies beyond the message. `timeoutMs` names
 * the deadline an aborted call ran into.
 */
export function describeApiError(error: unknown, timeoutMs?: number): string {
  const e = error as { code?: unknown; body?: unknown; name?: string; message?: string } | null;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return timeoutMs === undefined ? 'no answer in time' : `no answer in ${timeoutMs / 1000} s`;
  }
  if (typeof e?.code === 'number') {
    let message = '';
    try {
      message = String((JSON.parse(String(e.body)) as { message?: unknown }).message ?? '');
    } catch {
      // Not a Status object: the code says enough.
    }
    return scrubText(`HTTP ${e.code}${message ? `: ${message}` : ''}`).slice(0, 300);
  }
  const cause = (error as { cause?: { message?: string } } | null)?.cause?.message;
  return scrubText(`${e?.message ?? String(error)}${cause ? ` (${cause})` : ''}`)
    .split('\n')[0]!
    .slice(0, 300);
}
