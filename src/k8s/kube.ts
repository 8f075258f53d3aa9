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
  setHeaderOptions,
} from '@kubernetes/client-node';

export interface KubeApis {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  rbac: RbacAuthorizationV1Api;
}

export function kubeApis(kc: KubeConfig): KubeApis {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
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

/** A short, secret-free account of a failed call: the server's message, not its headers. */
export function describeApiError(error: unknown): string {
  const status = statusOf(error);
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return `${status}: ${parsed.message}`;
    } catch {
      // Not JSON: fall through to the error's own message.
    }
  }
  const message = (error as Error | null)?.message ?? String(error);
  return status === undefined ? message.split('\n')[0]! : `${status}: ${message.split('\n')[0]}`;
}
