/**
 * A raw HTTP server on 127.0.0.1 that answers the two requests the runner makes of the
 * Kubernetes API (PATCH a BenchmarkJob's status, GET the BenchmarkJob), for the tests that
 * need an API server that is slow, silent or down: behaviour the real one (control-plane.ts,
 * in the *.k8s.test.ts files) cannot be made to show. It records every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface RecordedRequest {
  method: string;
  url: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
  atMs: number;
}

export interface ApiStandIn {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The most requests it held at once. */
  readonly maxInFlight: number;
  /** The object GET answers (spec and metadata). */
  object: Record<string, unknown>;
  /** A client configuration for it, with `token` as the bearer token. */
  kubeConfig(token: string): KubeConfig;
  /** A kubeconfig file's text for it. */
  kubeconfigYaml(token: string): string;
  close(): Promise<void>;
}

export interface StandInOptions {
  /** Each answer waits this long. */
  delayMs?: number;
  /** Never answers (holds every request open). */
  silent?: boolean;
}

export async function startApiStandIn(options: StandInOptions = {}): Promise<ApiStandIn> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const held: ServerResponse[] = [];
  const state = { object: {} as Record<string, unknown> };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= 1024 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? (JSON.parse(text) as unknown) : null;
      } catch {
        // Kept as text.
      }
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        body,
        atMs: Date.now(),
      });
      if (options.silent) {
        held.push(res);
        return;
      }
      const answer = (): void => {
        const payload = JSON.stringify(req.method === 'GET' ? state.object : { kind: 'BenchmarkJob' });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(payload);
      };
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const yaml = (token: string): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: stand-in',
      // The client refuses plain HTTP unless TLS checks are off (there is no TLS here at all).
      `  cluster: { server: '${url}', insecure-skip-tls-verify: true }`,
      'users:',
      `- name: runner`,
      `  user: { token: '${token}' }`,
      'contexts:',
      '- name: runner',
      '  context: { cluster: stand-in, user: runner, namespace: default }',
      'current-context: runner',
      '',
    ].join('\n');
  return {
    url,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    get object() {
      return state.object;
    },
    set object(value) {
      state.object = value;
    },
    kubeConfig(token) {
      const kc = new KubeConfig();
      kc.loadFromString(yaml(token));
      return kc;
    },
    kubeconfigYaml: yaml,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
