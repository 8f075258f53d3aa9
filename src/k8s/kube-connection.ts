/**
 * Which cluster `infermark k8s …` talks to: a kubeconfig (`--kubeconfig`, else $KUBECONFIG,
 * else ~/.kube/config, else the pod's ServiceAccount), a context (`--context`, else the
 * current one) and a namespace (`-n`, else the context's, else `default`), as kubectl
 * picks them. Errors say which server and why; a token or client key never appears in them.
 */
import { existsSync } from 'node:fs';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { ExitCode, InfermarkError, ValidationError } from '../base/errors.js';
import { API_VERSION, PLURAL } from './names.js';

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface KubeConnection {
  kc: KubeConfig;
  /** The API server's URL. */
  server: string;
  context: string;
  /** The namespace commands act in. */
  namespace: string;
}

// What client-node falls back to when it finds no configuration at all.
const NO_CONFIG_SERVER = 'http://localhost:8080';

export function connect(target: KubeTarget, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const kc = new KubeConfig();
  if (target.kubeconfig !== undefined) {
    if (!existsSync(target.kubeconfig)) {
      throw new ValidationError([
        { path: '--kubeconfig', value: target.kubeconfig, message: 'no such file' },
      ]);
    }
    try {
      kc.loadFromFile(target.kubeconfig);
    } catch (error) {
      throw new ValidationError([
        {
          path: '--kubeconfig',
          value: target.kubeconfig,
          message: `not a kubeconfig (${firstLine(error)})`,
        },
      ]);
    }
  } else {
    try {
      kc.loadFromDefault();
    } catch (error) {
      throw new ValidationError([
        {
          path: env.KUBECONFIG ? 'KUBECONFIG' : '~/.kube/config',
          ...(env.KUBECONFIG ? { value: env.KUBECONFIG } : {}),
          message: `not a kubeconfig (${firstLine(error)})`,
        },
      ]);
    }
  }
  if (target.context !== undefined) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new ValidationError([
        {
          path: '--context',
          value: target.context,
          message: `no such context in the kubeconfig; expected one of: ${known.join(', ') || '(none)'}`,
        },
      ]);
    }
    kc.setCurrentContext(target.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster && target.kubeconfig !== undefined) {
    throw new ValidationError([
      {
        path: '--kubeconfig',
        value: target.kubeconfig,
        message:
          'no current context with a cluster in it: expected a kubeconfig (clusters, users, contexts, current-context)',
      },
    ]);
  }
  if (!cluster || (cluster.name === 'cluster' && cluster.server === NO_CONFIG_SERVER)) {
    throw new ValidationError([
      {
        path: '--kubeconfig',
        message:
          'no Kubernetes configuration found: give --kubeconfig FILE, set KUBECONFIG, or write ~/.kube/config',
      },
    ]);
  }
  const context = kc.getCurrentContext();
  const namespace = target.namespace ?? kc.getContextObject(context)?.namespace ?? 'default';
  return { kc, server: cluster.server, context, namespace };
}

function firstLine(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split('\n')[0]!.slice(0, 200);
}

/** The `message` of a Kubernetes Status body, if the body is one. */
export function statusMessage(error: ApiException<unknown>): string {
  const body = error.body;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
    if (typeof parsed?.message === 'string') return parsed.message.slice(0, 500);
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return typeof body === 'string' && body !== '' ? body.slice(0, 500) : error.message.split('\n')[0]!;
}

export const isApiError = (error: unknown, code?: number): error is ApiException<unknown> =>
  error instanceof ApiException && (code === undefined || error.code === code);

/**
 * An error of a call to the API server, in words: which server, what was being done and
 * what it answered (or why it could not be reached). `doing`: "reading benchmarkjob x".
 */
export function kubeError(conn: KubeConnection, doing: string, error: unknown): InfermarkError {
  const at = `the Kubernetes API server at ${conn.server} (context "${conn.context}")`;
  if (error instanceof InfermarkError) return error;
  if (error instanceof ApiException) {
    const code = error.code;
    if (code === 401) {
      return new InfermarkError(
        'E_K8S_UNAUTHORIZED',
        `${doing}: ${at} refused the credentials (401 Unauthorized): check the kubeconfig's user`,
      );
    }
    if (code === 403) {
      return new InfermarkError('E_K8S_FORBIDDEN', `${doing}: ${at} says: ${statusMessage(error)}`);
    }
    if (code === 404 && /the server could not find the requested resource/.test(statusMessage(error))) {
      return new InfermarkError(
        'E_K8S_NO_CRD',
        `${doing}: ${at} does not serve ${PLURAL}.${API_VERSION.split('/')[0]} (${API_VERSION}): install the CRD first (infermark k8s manifests | kubectl apply -f -)`,
      );
    }
    return new InfermarkError(
      'E_K8S_API',
      `${doing}: ${at} answered ${code}: ${statusMessage(error)}`,
      code === 422 || code === 400 ? ExitCode.badInput : ExitCode.failure,
    );
  }
  // node-fetch's and node's errors: a refused connection, a name that does not resolve, TLS.
  const cause = error as { code?: string; message?: string; cause?: { code?: string } };
  const reason = cause.code ?? cause.cause?.code;
  const message = firstLine(error).replace(/^request to \S+ failed, reason: /, '');
  return new InfermarkError(
    'E_K8S_UNREACHABLE',
    `${doing}: cannot reach ${at}: ${message}${reason && !message.includes(reason) ? ` (${reason})` : ''}`,
  );
}
