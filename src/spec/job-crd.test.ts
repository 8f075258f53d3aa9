// The BenchmarkJob CRD: generated from the job schema, structural, and it keeps every field
// of the seed jobs (an API server prunes what its CRD does not know). Regenerate the
// checked-in file with `npm run crd` after a deliberate change to the job schema.
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { benchmarkJobCrd, CRD_NAME } from './job-crd.js';

// dist/src/spec → the repository root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CRD_FILE = join(ROOT, 'deploy', 'crd', `${CRD_NAME}.yaml`);
const HEADER =
  '# Generated from src/spec/job-schema.ts by src/spec/job-crd.ts: do not edit; run `npm run crd`.\n';

type Node = Record<string, unknown>;

function openApiSchema(crd: Node): Node {
  const versions = (crd.spec as { versions: { schema: { openAPIV3Schema: Node } }[] }).versions;
  return versions[0]!.schema.openAPIV3Schema;
}

test('the checked-in CRD is the one the job schema gives', async () => {
  const generated = benchmarkJobCrd();
  if (process.env.INFERMARK_UPDATE_CRD === '1') {
    await mkdir(dirname(CRD_FILE), { recursive: true });
    await writeFile(CRD_FILE, HEADER + stringify(generated, { lineWidth: 0 }));
  }
  const checkedIn = parse(await readFile(CRD_FILE, 'utf8')) as Node;
  assert.deepEqual(
    checkedIn,
    generated,
    `${CRD_FILE} differs from the job schema's CRD: run \`npm run crd\` and review the diff`,
  );
});

/** int-or-string in controller-gen's form, the only anyOf a structural schema may hold here. */
const isIntOrString = (node: Node): boolean =>
  node['x-kubernetes-int-or-string'] === true &&
  JSON.stringify(node.anyOf) === JSON.stringify([{ type: 'integer' }, { type: 'string' }]);

test('the CRD schema is structural: a type at every node, no references, regexes or defaults', () => {
  const problems: string[] = [];
  const walk = (node: Node, path: string): void => {
    const typed =
      typeof node.type === 'string' ||
      node['x-kubernetes-int-or-string'] === true ||
      node['x-kubernetes-preserve-unknown-fields'] === true;
    if (!typed) problems.push(`${path}: no type`);
    for (const banned of ['$ref', 'anyOf', 'oneOf', 'allOf', 'pattern', 'default', 'const', '$schema'])
      if (banned in node && !(banned === 'anyOf' && isIntOrString(node))) problems.push(`${path}: ${banned}`);
    if (node.properties && node.additionalProperties !== undefined)
      problems.push(`${path}: properties and additionalProperties together`);
    if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
    for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>))
      walk(child, `${path}.${key}`);
    if (node.items) walk(node.items as Node, `${path}[]`);
    if (node.additionalProperties && typeof node.additionalProperties === 'object')
      walk(node.additionalProperties as Node, `${path}{}`);
  };
  walk(openApiSchema(benchmarkJobCrd()), '');
  assert.deepEqual(problems, []);
  const spec = (openApiSchema(benchmarkJobCrd()).properties as Record<string, Node>).spec!;
  const fields = spec.properties as Record<string, Node>;
  // Spot checks of the conversion: a bound kept, an enum kept, a number-or-word, a pass-through.
  assert.equal((fields.numConcurrency!.items as Node).type, 'integer');
  assert.deepEqual((fields.endpoint!.properties as Record<string, Node>).endpoint!.type, 'object');
  assert.ok(Array.isArray(fields.task!.enum) && (fields.task!.enum as string[]).includes('text-to-text'));
  assert.deepEqual(fields.workers, {
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
  });
  assert.equal(typeof fields.maxRequestsPerIteration!.maximum, 'number');
});

test('every field of the seed jobs is one the CRD knows, so an API server keeps it', async () => {
  const schema = openApiSchema(benchmarkJobCrd());
  const unknown: string[] = [];
  const walk = (value: unknown, node: Node, path: string): void => {
    if (node['x-kubernetes-preserve-unknown-fields'] === true || value === null || typeof value !== 'object')
      return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, (node.items ?? {}) as Node, `${path}[${i}]`));
      return;
    }
    for (const [key, child] of Object.entries(value as Node)) {
      const properties = node.properties as Record<string, Node> | undefined;
      const next = properties?.[key] ?? (node.additionalProperties as Node | undefined);
      if (next === undefined) unknown.push(`${path}.${key}`);
      else walk(child, next, `${path}.${key}`);
    }
  };
  for (const file of ['seed-oci-llama.yaml', 'seed-s3.yaml', 'demo.yaml']) {
    const job = parse(await readFile(join(ROOT, 'examples', file), 'utf8')) as Node;
    walk(job.spec, (schema.properties as Record<string, Node>).spec!, `${file}: spec`);
  }
  assert.deepEqual(unknown, []);
});
