/**
 * The BenchmarkJob CustomResourceDefinition (`benchmarkjobs.ome.io`, v1beta1), generated
 * from the job schema itself (job-schema.ts), so the CRD and the runner cannot disagree
 * on a field: `deploy/crd/benchmarkjobs.ome.io.yaml` is this module's output, and a test
 * fails when the checked-in file drifts (regenerate: `npm run crd`).
 *
 * A CRD's schema must be structural (a type at every node, no `$ref`, no
 * `additionalProperties` beside `properties`). The zod schema's JSON Schema is made so:
 * - bounds on sizes and counts, enums and types are kept: the API server refuses what
 *   the runner would refuse, with the field's path;
 * - regular expressions are left out (JavaScript's and the API server's dialects differ)
 *   and so are defaults (the API server would write them into the stored object, which
 *   must stay as the user wrote it): the runner checks and fills those;
 * - a value that is a number or a word (`workers: 3` or `auto`) is int-or-string;
 * - Kubernetes structures OME passes through (volumes, affinity, ...) keep unknown fields.
 */
import { z } from 'zod';
import { benchmarkJobSchema } from './job-schema.js';

export const CRD_NAME = 'benchmarkjobs.ome.io';

type Node = Record<string, unknown>;

/** The whole CRD document. */
export function benchmarkJobCrd(): Node {
  const spec = structural(
    z.toJSONSchema(benchmarkJobSchema.shape.spec, {
      target: 'openapi-3.0',
      io: 'input',
      reused: 'inline',
      unrepresentable: 'any',
    }) as Node,
  );
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME },
    spec: {
      group: 'ome.io',
      names: {
        kind: 'BenchmarkJob',
        listKind: 'BenchmarkJobList',
        plural: 'benchmarkjobs',
        singular: 'benchmarkjob',
      },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1beta1',
          served: true,
          storage: true,
          subresources: { status: {} },
          // OME's columns, and what the run is doing.
          additionalPrinterColumns: [
            { name: 'Status', type: 'string', jsonPath: '.status.state' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Details', type: 'string', jsonPath: '.status.details', priority: 0 },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

/** Keywords a structural schema keeps as they are. */
const KEPT = new Set([
  'type',
  'description',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'nullable',
]);

/** One JSON Schema node (and its children) made structural. */
function structural(node: Node): Node {
  const choices = (node.anyOf ?? node.oneOf) as Node[] | undefined;
  if (choices) return unionOf(choices.map(structural));
  // `z.unknown()` (and any node without a type): whatever the user wrote is kept.
  if (node.type === undefined && node.const === undefined && node.enum === undefined) {
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }
  const out: Node = {};
  for (const [key, value] of Object.entries(node)) if (KEPT.has(key)) out[key] = value;
  if (node.const !== undefined) {
    out.type ??= typeof node.const === 'number' ? 'number' : typeof node.const;
    out.enum = [node.const];
  }
  if (node.properties) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties as Record<string, Node>).map(([key, child]) => [key, structural(child)]),
    );
  } else if (node.type === 'object') {
    const values = node.additionalProperties;
    // A map of strings stays a map; a map of anything keeps whatever it holds.
    if (values && typeof values === 'object' && (values as Node).type !== undefined)
      out.additionalProperties = structural(values as Node);
    else out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (node.items) out.items = structural(node.items as Node);
  return out;
}

/** A union: one type when its choices share one, int-or-string for a number or a word. */
function unionOf(choices: Node[]): Node {
  const types = new Set(choices.map((c) => c.type));
  if (types.size === 1) {
    const enums = choices.flatMap((c) => (Array.isArray(c.enum) ? c.enum : []));
    return { ...choices[0], ...(enums.length === choices.length ? { enum: enums } : {}) };
  }
  if ([...types].every((t) => t === 'integer' || t === 'number' || t === 'string')) {
    // The form controller-gen writes: a 1.20 API server refuses the extension without anyOf
    // ("type: Required value"), newer ones accept both.
    return { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };
  }
  return { 'x-kubernetes-preserve-unknown-fields': true };
}
