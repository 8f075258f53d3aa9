// Which cluster, context and namespace `infermark k8s` uses, and its errors: bad input names
// the flag and exits 2; a server that cannot be reached (a closed port on loopback) or that
// refuses is named with its URL and context, and the kubeconfig's token never appears.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { InfermarkError, ValidationError } from '../base/errors.js';
import { connect, kubeError } from './kube-connection.js';

const TOKEN = 'kubeconfig-secret-token-0123456789';

function kubeconfig(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    `  cluster: { server: '${server}' }`,
    'users:',
    `- name: u`,
    `  user: { token: ${TOKEN} }`,
    'contexts:',
    '- name: dev',
    '  context: { cluster: c, user: u, namespace: team-a }',
    '- name: bare',
    '  context: { cluster: c, user: u }',
    'current-context: dev',
    '',
  ].join('\n');
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('namespace: the flag, else the context, else default; contexts by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-kubeconfig-'));
  try {
    const file = join(dir, 'config');
    await writeFile(file, kubeconfig('https://127.0.0.1:6443'));
    const dev = connect({ kubeconfig: file });
    assert.equal(dev.server, 'https://127.0.0.1:6443');
    assert.equal(dev.context, 'dev');
    assert.equal(dev.namespace, 'team-a');
    assert.equal(connect({ kubeconfig: file, namespace: 'x' }).namespace, 'x');
    assert.equal(connect({ kubeconfig: file, context: 'bare' }).namespace, 'default');
    assert.throws(
      () => connect({ kubeconfig: file, context: 'prod' }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.exitCode === 2 &&
        /--context: "prod": no such context in the kubeconfig; expected one of: dev, bare/.test(
          error.message,
        ),
    );
    assert.throws(
      () => connect({ kubeconfig: join(dir, 'missing') }),
      /--kubeconfig: ".*missing": no such file/,
    );
    await writeFile(join(dir, 'junk'), '- not\n- a config\n');
    assert.throws(
      () => connect({ kubeconfig: join(dir, 'junk') }),
      /--kubeconfig: ".*junk": no current context with a cluster in it/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server that cannot be reached is named with its URL and context and the reason, without the token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-kubeconfig-'));
  try {
    const port = await closedPort();
    const file = join(dir, 'config');
    await writeFile(file, kubeconfig(`https://127.0.0.1:${port}`));
    const conn = connect({ kubeconfig: file });
    const error = await conn.kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: 'x' })
      .then(
        () => assert.fail('a closed port answered'),
        (e: unknown) => kubeError(conn, 'listing pods', e),
      );
    assert.ok(error instanceof InfermarkError);
    assert.equal(error.exitCode, 1);
    assert.match(
      error.message,
      new RegExp(
        `^listing pods: cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${port} \\(context "dev"\\): .*ECONNREFUSED`,
      ),
    );
    assert.ok(!error.message.includes(TOKEN));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the API server's answers in words: 401, 403, no CRD, 422", () => {
  const conn = { server: 'https://k:6443', context: 'dev' } as Parameters<typeof kubeError>[0];
  const status = (code: number, message: string): ApiException<string> =>
    new ApiException(code, 'x', JSON.stringify({ kind: 'Status', code, message }), {});
  assert.match(
    kubeError(conn, 'reading', status(401, 'Unauthorized')).message,
    /refused the credentials \(401 Unauthorized\)/,
  );
  assert.match(
    kubeError(conn, 'creating', status(403, 'benchmarkjobs.ome.io is forbidden: User "bob" cannot create'))
      .message,
    /says: benchmarkjobs\.ome\.io is forbidden: User "bob"/,
  );
  assert.match(
    kubeError(conn, 'creating', status(404, 'the server could not find the requested resource')).message,
    /does not serve benchmarkjobs\.ome\.io .*install the CRD first/,
  );
  const invalid = kubeError(conn, 'creating', status(422, 'spec.task: Unsupported value'));
  assert.equal(invalid.exitCode, 2);
  assert.match(invalid.message, /answered 422: spec\.task: Unsupported value/);
});
