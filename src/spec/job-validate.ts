/**
 * Validate a raw BenchmarkJob object: schema issues and cross-field rules together, then
 * the defaults that depend on other fields (scenarios by task, concurrency levels). The
 * result is a ValidatedJob: the job plus the scenario, SLO and storage-URI values the
 * rules parsed, so no later stage parses those strings again.
 */
import { benchmarkJobSchema, type BenchmarkJob } from './job-schema.js';
import { checkJobRules, type JobIssue } from './job-rules.js';
import { parseScenario } from './scenario.js';
import { defaultNumConcurrency, defaultScenariosByTask } from './tasks.js';
import type { ParsedScenario, ValidatedJob } from './validated-job.js';
import { fromZodIssues } from './zod-issues.js';

/** A validated job with defaults and parsed values, or every issue found. */
export type JobValidation = { ok: true; job: ValidatedJob } | { ok: false; issues: JobIssue[] };

/** Validate a raw job object (parsed YAML/JSON or built by the CLI). Never throws for bad input. */
export function validateJob(raw: unknown): JobValidation {
  const parsed = benchmarkJobSchema.safeParse(raw);
  const issues = parsed.success ? [] : fromZodIssues(parsed.error.issues, raw, benchmarkJobSchema);
  const rules = checkJobRules(raw);
  issues.push(...rules.issues);
  if (!parsed.success || issues.length > 0) return { ok: false, issues };

  const { trafficScenarios, numConcurrency, ...spec } = parsed.data.spec;
  // Without problems the rules parsed every listed scenario, in order.
  const scenarios = rules.scenarios ?? defaultScenarios(spec.task, spec.datasetFile ?? spec.dataset);
  return {
    ok: true,
    job: {
      ...parsed.data,
      spec: {
        ...spec,
        trafficScenarios: trafficScenarios ?? scenarios.map((entry) => entry.text),
        numConcurrency: numConcurrency ?? defaultConcurrency(spec.requestRates, spec.trace),
      },
      parsed: { scenarios, slos: rules.slos, outputLocation: rules.outputLocation },
    },
  };
}

/**
 * Scenarios when the job names none (OME: "defaults will be assigned via genai-bench").
 * genai-bench runs text-to-text in dataset mode when a dataset is given and no scenario is,
 * and otherwise uses its per-task defaults (DEFAULT_SCENARIOS_BY_TASK).
 */
function defaultScenarios(task: BenchmarkJob['spec']['task'], dataset: unknown): ParsedScenario[] {
  const texts = task === 'text-to-text' && dataset !== undefined ? ['dataset'] : defaultScenariosByTask[task];
  return texts.map((text) => {
    const result = parseScenario(text);
    // The defaults are constants of this module's own (tasks.ts); a test parses every one.
    if (!result.ok) throw new Error(`default scenario ${text} does not parse: ${result.message}`);
    return { text, scenario: result.scenario };
  });
}

/**
 * Concurrency levels when the job names none. If requestRates or a trace drive the run, no
 * closed-loop iterations are added (the user asked for open-loop or replay only). Otherwise
 * genai-bench's sweep 1..256, as OME promises "defaults assigned via genai-bench": an OME
 * job must run here as it would there.
 */
function defaultConcurrency(requestRates: number[] | undefined, trace: string | undefined): number[] {
  if (requestRates !== undefined || trace !== undefined) return [];
  return [...defaultNumConcurrency];
}
