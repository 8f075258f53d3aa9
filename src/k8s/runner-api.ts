/**
 * The two requests the runner makes of the Kubernetes API (docs/k8s.md): a JSON merge patch
 * of its BenchmarkJob's status subresource, and a GET of the BenchmarkJob (for spec.cancel),
 * each bounded by an AbortSignal the caller gives; and API errors told in one line.
 */
import {
  CustomObjectsApi,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { describeApiError as describeKubeError } from './kube.js';
import { GROUP, PLURAL, VERSION } from './names.js';
import type { RunnerTarget } from './runner-identity.js';

/** One API request's bound: a slow API server costs the status, never the run. */
export const API_TIMEOUT_MS = 10_000;

/** What the runner asks of the API server; kubeStatusApi is the real one. */
export interface StatusApi {
  patchStatus(status: Record<string, unknown>, signal: AbortSignal): Promise<void>;
  /** The BenchmarkJob as stored (its spec and annotations). */
  read(signal: AbortSignal): Promise<{ spec?: unknown; metadata?: { annotations?: Record<string, string> } }>;
}

/** Hands a request's AbortSignal to the client (its fetch honours it). */
function withSignal(signal: AbortSignal, options?: ConfigurationOptions): ConfigurationOptions {
  return {
    ...options,
    middleware: [
      ...(options?.middleware ?? []),
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

export function kubeStatusApi(kc: KubeConfig, target: RunnerTarget): StatusApi {
  const api = kc.makeApiClient(CustomObjectsApi);
  const object = { group: GROUP, version: VERSION, plural: PLURAL, ...target };
  return {
    async patchStatus(status, signal) {
      await api.patchNamespacedCustomObjectStatus(
        { ...object, body: { status } },
        withSignal(signal, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      );
    },
    async read(signal) {
      return (await api.getNamespacedCustomObject(object, withSignal(signal))) as Awaited<
        ReturnType<StatusApi['read']>
      >;
    },
  };
}

/** One line, secret-free, naming the runner's deadline when a call ran into it. */
export function describeApiError(error: unknown, timeoutMs = API_TIMEOUT_MS): string {
  return describeKubeError(error, timeoutMs);
}
