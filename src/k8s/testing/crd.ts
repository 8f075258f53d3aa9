/**
 * Installs the BenchmarkJob CRD (deploy/crd/benchmarkjobs.ome.io.yaml, or another file such as
 * OME's narrower CRD) into a test API server and returns once the API serves benchmarkjobs.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  loadYaml,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';

/** The CRD checked in (from dist/src/k8s/testing or src/k8s/testing, the same three levels up). */
export const CRD_FILE = fileURLToPath(
  new URL('../../../../deploy/crd/benchmarkjobs.ome.io.yaml', import.meta.url),
);

const codeOf = (error: unknown): number | undefined => (error as { code?: number }).code;

/**
 * Creates (or replaces) the CRD in `yamlPath` and waits until it is Established and its
 * resource answers a list. Loaded with the client's `loadYaml`, so every schema keyword
 * (x-kubernetes-…) survives the typed serialization.
 */
export async function installCrd(
  kc: KubeConfig,
  yamlPath: string = CRD_FILE,
  timeoutMs = 30_000,
): Promise<V1CustomResourceDefinition> {
  const crd = loadYaml<V1CustomResourceDefinition>(await readFile(yamlPath, 'utf8'));
  const name = crd.metadata?.name;
  if (crd.kind !== 'CustomResourceDefinition' || !name)
    throw new Error(`${yamlPath}: not a CustomResourceDefinition with a metadata.name`);
  const api = kc.makeApiClient(ApiextensionsV1Api);
  try {
    await api.createCustomResourceDefinition({ body: crd });
  } catch (error) {
    if (codeOf(error) !== 409) throw error;
    const existing = await api.readCustomResourceDefinition({ name });
    crd.metadata = { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion };
    await api.replaceCustomResourceDefinition({ name, body: crd });
  }

  const custom = kc.makeApiClient(CustomObjectsApi);
  const { group } = crd.spec;
  const version = crd.spec.versions.find((v) => v.served)?.name ?? '';
  const plural = crd.spec.names.plural;
  const deadline = Date.now() + timeoutMs;
  let last = 'not Established';
  while (Date.now() < deadline) {
    const current = await api.readCustomResourceDefinition({ name });
    const established = current.status?.conditions?.some(
      (c) => c.type === 'Established' && c.status === 'True',
    );
    if (established) {
      try {
        // Established can precede the discovery of the new resource by a moment.
        await custom.listClusterCustomObject({ group, version, plural, limit: 1 });
        return current;
      } catch (error) {
        last = `Established, but listing ${plural} failed: ${(error as Error).message}`;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CRD ${name} from ${yamlPath} not served in ${timeoutMs} ms (${last})`);
}
