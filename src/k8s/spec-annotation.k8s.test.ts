/**
 * Where OME's own, narrower CRD is installed, the API server prunes infermark's additions
 * from spec (structural schemas drop unknown fields). They survive in the
 * `infermark.io/spec` annotation, which `infermark k8s submit` writes and the controller
 * merges back. Against a real API server with a CRD of OME's fields only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ApiextensionsV1Api, loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { benchmarkJobCrd } from '../spec/job-crd.js';
import { EventRecorder } from './events.js';
import { kubeApis } from './kube.js';
import { GROUP, PLURAL, SPEC_ANNOTATION, VERSION } from './names.js';
import { Reconciler } from './reconcile.js';
import type { BenchmarkJobObject } from './resource.js';
import { OME_SPEC_FIELDS } from './spec-annotation.js';
import { MAIN, until } from './testing/bench-cluster.js';
import { kubeBinDir, startControlPlane, type ControlPlane } from './testing/control-plane.js';

const skip = kubeBinDir() ? false : 'INFERMARK_KUBE_BIN is not set (run with `npm run test:k8s`)';
let plane: ControlPlane;
let dir: string;

/** Our CRD cut down to OME's spec fields: what a cluster with OME's controller has installed. */
function omeCrd(): Record<string, unknown> {
  type Node = { properties: Record<string, Node> };
  const crd = benchmarkJobCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> } };
  for (const version of crd.spec.versions) {
    const spec = version.schema.openAPIV3Schema.properties.spec!;
    spec.properties = Object.fromEntries(
      Object.entries(spec.properties).filter(([field]) => OME_SPEC_FIELDS.includes(field)),
    );
  }
  return crd;
}

const job = (name: string) => ({
  apiVersion: 'ome.io/v1beta1',
  kind: 'BenchmarkJob',
  metadata: { name, namespace: 'default' },
  spec: {
    endpoint: { endpoint: { url: 'http://model:8080/v1/completions', apiFormat: 'openai', modelName: 'm' } },
    task: 'text-to-text',
    numConcurrency: [4],
    maxTimePerIteration: 1,
    maxRequestsPerIteration: 40,
    outputLocation: { storageUri: 'pvc://results/runs' },
    workers: 2,
  },
});

before(async () => {
  if (skip) return;
  plane = await startControlPlane();
  dir = await mkdtemp(join(tmpdir(), 'infermark-annotation-'));
  const api = plane.kubeConfig().makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({
    body: loadYaml<V1CustomResourceDefinition>(stringify(omeCrd())),
  });
  const custom = kubeApis(plane.kubeConfig()).custom;
  await until('the narrow CRD to serve', 30_000, () =>
    custom
      .listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: 'default' })
      .then(() => true),
  );
});

after(async () => {
  if (skip) return;
  await plane?.stop();
  await rm(dir, { recursive: true, force: true });
});

test(
  "under OME's CRD, an addition in spec is pruned; submitted by `infermark k8s submit` it survives in the annotation and the controller runs it",
  { skip },
  async () => {
    const apis = kubeApis(plane.kubeConfig());
    const custom = { group: GROUP, version: VERSION, plural: PLURAL, namespace: 'default' };
    // kubectl apply: the API server drops `workers`, silently.
    await apis.custom.createNamespacedCustomObject({ ...custom, body: job('plain') });
    const plain = (await apis.custom.getNamespacedCustomObject({
      ...custom,
      name: 'plain',
    })) as BenchmarkJobObject;
    assert.equal(plain.spec?.workers, undefined, 'pruned by the narrow schema');

    const file = join(dir, 'annotated.yaml');
    await writeFile(file, stringify(job('annotated')));
    const submitted = spawnSync(
      process.execPath,
      [MAIN, 'k8s', 'submit', file, '--kubeconfig', plane.kubeconfigPath],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(submitted.status, 0, `${submitted.stdout}${submitted.stderr}`);
    const annotated = (await apis.custom.getNamespacedCustomObject({
      ...custom,
      name: 'annotated',
    })) as BenchmarkJobObject;
    assert.equal(annotated.spec?.workers, undefined);
    assert.deepEqual(JSON.parse(annotated.metadata.annotations?.[SPEC_ANNOTATION] ?? '{}'), { workers: 2 });

    // The controller reads both: one pod for the pruned one, a split over two for the annotated.
    const reconciler = new Reconciler({
      apis,
      events: new EventRecorder(apis.core, 'test'),
      image: 'infermark:test',
    });
    for (const name of ['plain', 'annotated']) {
      for (let i = 0; i < 3; i++) await reconciler.reconcile('default', name);
    }
    const args = async (name: string) =>
      (await apis.batch.readNamespacedJob({ namespace: 'default', name })).spec?.template.spec?.containers[0]
        ?.args ?? [];
    assert.ok(!(await args('plain')).includes('--workers'));
    assert.deepEqual((await args('annotated')).slice(-4, -2), ['--workers', '2']);
    assert.ok(await apis.core.readNamespacedSecret({ namespace: 'default', name: 'annotated-coordinator' }));
  },
);

test(
  'an annotation that is not a JSON object fails the BenchmarkJob with the reason, and makes nothing',
  { skip },
  async () => {
    const apis = kubeApis(plane.kubeConfig());
    const custom = { group: GROUP, version: VERSION, plural: PLURAL, namespace: 'default' };
    const body = job('broken');
    (body.metadata as Record<string, unknown>).annotations = { [SPEC_ANNOTATION]: '{workers: 2' };
    await apis.custom.createNamespacedCustomObject({ ...custom, body });
    const reconciler = new Reconciler({
      apis,
      events: new EventRecorder(apis.core, 'test'),
      image: 'infermark:test',
    });
    for (let i = 0; i < 3; i++) await reconciler.reconcile('default', 'broken');
    const broken = (await apis.custom.getNamespacedCustomObject({
      ...custom,
      name: 'broken',
    })) as BenchmarkJobObject;
    assert.equal(broken.status?.state, 'Failed');
    assert.match(broken.status?.failureMessage ?? '', /infermark\.io\/spec.*not JSON/);
    await assert.rejects(
      apis.batch.readNamespacedJob({ namespace: 'default', name: 'broken' }),
      (e: { code?: number }) => e.code === 404,
    );
  },
);
