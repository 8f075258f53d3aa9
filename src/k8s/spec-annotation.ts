/**
 * infermark's additions past OME's BenchmarkJob CRD survive in an annotation (docs/k8s.md):
 * where OME's narrower CRD is installed, the API server prunes spec fields it does not know,
 * but keeps annotations whole. `splitAdditions` moves every field outside OME's schema into
 * the annotation (what `infermark k8s submit` applies); `effectiveSpec` merges it back over
 * the spec the API server kept (what the controller runs).
 */
import { SPEC_ANNOTATION } from './names.js';

/** The spec fields of OME's own BenchmarkJob CRD (ome.io/v1beta1, BenchmarkJobSpec). */
export const OME_SPEC_FIELDS: readonly string[] = [
  'huggingFaceSecretReference',
  'endpoint',
  'serviceMetadata',
  'task',
  'trafficScenarios',
  'numConcurrency',
  'maxTimePerIteration',
  'maxRequestsPerIteration',
  'additionalRequestParams',
  'dataset',
  'outputLocation',
  'resultFolderName',
  'podOverride',
];

type Spec = Record<string, unknown>;

export interface SplitSpec {
  /** What OME's CRD keeps. */
  spec: Spec;
  /** The rest, for the annotation; empty when the job uses OME's fields only. */
  additions: Spec;
}

export function splitAdditions(spec: Spec): SplitSpec {
  const kept: Spec = {};
  const additions: Spec = {};
  for (const [key, value] of Object.entries(spec)) {
    if (OME_SPEC_FIELDS.includes(key)) kept[key] = value;
    else additions[key] = value;
  }
  return { spec: kept, additions };
}

export class SpecAnnotationError extends Error {}

/**
 * The spec to run: the annotation's fields over the stored spec (the annotation's win: it is
 * where the user's whole intent survived). Throws SpecAnnotationError for an annotation that
 * is not a JSON object, saying so.
 */
export function effectiveSpec(spec: unknown, annotations: Record<string, string> | undefined): Spec {
  const base = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? (spec as Spec) : {};
  const text = annotations?.[SPEC_ANNOTATION];
  if (text === undefined) return { ...base };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SpecAnnotationError(
      `metadata.annotations["${SPEC_ANNOTATION}"]: not JSON (${(error as Error).message}); expected a JSON object of spec fields`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SpecAnnotationError(
      `metadata.annotations["${SPEC_ANNOTATION}"]: ${JSON.stringify(parsed)?.slice(0, 80)} is not an object; expected a JSON object of spec fields`,
    );
  }
  return { ...base, ...(parsed as Spec) };
}
