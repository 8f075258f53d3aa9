/**
 * A validated job: the BenchmarkJob (defaults applied) plus what its strings stand for,
 * parsed once by the validator (job-validate.ts): each traffic scenario, each SLO and the
 * output location's storage URI. Later stages read these values and never parse the
 * strings again, so they have nothing left to reject.
 */
import type { BenchmarkJob } from './job-schema.js';
import type { Scenario } from './scenario-types.js';
import type { Slo } from './slo-types.js';
import type { StorageLocation } from './storage-uri.js';

/** One `spec.trafficScenarios` entry: the text as written (a key in results) and what it says. */
export interface ParsedScenario {
  text: string;
  scenario: Scenario;
}

/** The parsed values of a validated job's expression strings. */
export interface ParsedJobValues {
  /** One per `spec.trafficScenarios` entry, in its order. */
  scenarios: readonly ParsedScenario[];
  /** One per `spec.slos` entry, in its order (empty without SLOs). */
  slos: readonly Slo[];
  /** `spec.outputLocation.storageUri`, parsed; null without an outputLocation. */
  outputLocation: StorageLocation | null;
}

/**
 * What validateJob (and so loadJobFile, parseJobText and jobFromCli) returns. A change to a
 * scenario list after validation keeps `parsed.scenarios` in step (see gate/profiles.ts).
 */
export type ValidatedJob = BenchmarkJob & { readonly parsed: ParsedJobValues };

/** The job as written to run.json and read back by the warehouse: the BenchmarkJob alone. */
export function jobDocument(job: ValidatedJob): BenchmarkJob {
  const { parsed: _parsed, ...document } = job;
  // A job of only request rates or a trace gets `numConcurrency: []` from validation, which
  // validation itself refuses as written: the document leaves it out, so it validates again
  // (a worker of a split run, a merge, a gate re-reading run.json).
  if (document.spec.numConcurrency?.length === 0) {
    const { numConcurrency: _none, ...spec } = document.spec;
    return { ...document, spec: spec as BenchmarkJob['spec'] };
  }
  return document;
}
