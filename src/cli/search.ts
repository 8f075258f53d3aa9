/**
 * `infermark search JOB`: the SLA search (docs/search.md). The highest request rate (or
 * concurrency) at which every SLO of the job holds, found by probing: one run whose
 * iterations are the probes, decided as they end (search/search-plan.ts), kept, sealed,
 * uploaded and ingested like any run, with search.json beside its summary. Prints the knee,
 * the last passing and first failing probes with their checks and evidence, every probe,
 * the Pareto frontier and the cost within SLO.
 */
import type { Command } from 'commander';
import { ExitCode, ValidationError, type ValidationIssue } from '../base/errors.js';
import { scrubText } from '../base/redact.js';
import { pricePerHour } from '../metrics/cost.js';
import { MAX_CONCURRENCY, MAX_REPEATS, MAX_REQUEST_RATE_RPS, MAX_SEARCH_PROBES } from '../spec/job-limits.js';
import { loadJobFile, type ValidatedJob } from '../spec/load-job.js';
import { loadJobPriceTable } from '../spec/price-table.js';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { renderSearch } from '../search/render.js';
import { SearchPlan, type SearchBy, type SearchSettings } from '../search/search-plan.js';
import { collect, DEFAULT_OUT } from './run-flags.js';

export interface SearchFlags {
  slo?: string[];
  by?: string;
  min?: string;
  max?: string;
  maxProbes?: string;
  precision?: string;
  repeats?: string;
  scenario?: string;
  workers?: string;
  url?: string;
  model?: string;
  out: string;
  warehouse?: string | false;
  json?: boolean;
  quiet?: boolean;
}

/** Loads used when neither the job nor the command line bounds the search. */
export const DEFAULT_SEARCH_MIN = 1;
export const DEFAULT_SEARCH_MAX = 1024;

export function registerSearchCommand(program: Command): void {
  program
    .command('search')
    .description('find the highest load at which every SLO holds (SLA search), with its cost')
    .argument('<job>', 'BenchmarkJob YAML file (its spec.slos, spec.search and one scenario)')
    .option('--slo <slo>', "SLO, e.g. 'p99_ttft_ms<=500' (repeatable; replaces spec.slos)", collect)
    .option(
      '--by <what>',
      'search over rate (req/s, open loop) or concurrency (default: spec.search.by, else rate)',
    )
    .option('--min <load>', 'the first and lowest load probed (default 1)')
    .option('--max <load>', `the highest load probed (default ${DEFAULT_SEARCH_MAX})`)
    .option('--max-probes <n>', 'probes at most (default 12)')
    .option('--precision <percent>', 'stop when the bracket is this narrow, e.g. 10% (default 5%)')
    .option('--repeats <k>', 'iterations per probe; a probe passes only if all pass (default spec.repeats)')
    .option(
      '--scenario <scenario>',
      'the traffic scenario searched (default spec.search.scenario, else the only one)',
    )
    .option('--workers <n>', 'only 1: a search decides each probe from the last, which one process runs')
    .option('--url <url>', "endpoint URL (overrides the job's)")
    .option('--model <name>', "model name (overrides the job's)")
    .option('--out <dir>', 'parent folder of run folders', DEFAULT_OUT)
    .option(
      '--warehouse <path>',
      'ingest the run into this warehouse (default: $INFERMARK_WAREHOUSE or the user data dir)',
    )
    .option('--no-warehouse', 'do not ingest the run into the warehouse')
    .option('--json', 'print search.json on stdout')
    .option('--quiet', 'no progress output')
    .action(async (job: string, flags: SearchFlags) => {
      process.exitCode = await searchCommand(job, flags);
    });
}

/** Runs the search; returns the exit code (1 when the run failed, 130 when interrupted). */
export async function searchCommand(jobFile: string, flags: SearchFlags): Promise<number> {
  const job = await loadJobFile(jobFile);
  const { job: searchJob, settings } = searchSettings(job, jobFile, flags);
  const price = pricePerHour(searchJob.spec, await loadJobPriceTable(searchJob.spec, jobFile));
  const plan = new SearchPlan(searchJob, settings, price);
  const { runJob } = await import('./run.js');
  const group = await runJob(
    searchJob,
    jobFile,
    {
      out: flags.out,
      ...(flags.url ? { url: flags.url } : {}),
      ...(flags.model ? { model: flags.model } : {}),
      ...(flags.warehouse !== undefined ? { warehouse: flags.warehouse } : {}),
      ...(flags.json ? { json: true } : {}),
      ...(flags.quiet ? { quiet: true } : {}),
    },
    null,
    plan,
  );
  const run = group.runs[0];
  if (!run) return ExitCode.failure;
  const document = plan.document();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ run_id: run.runId, dir: run.dir, ...document }, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${renderSearch(document)}\n`);
    process.stdout.write(
      `run ${run.runId}${run.status === 'complete' ? '' : ` (${run.status})`}\nrun folder: ${run.dir}\n`,
    );
    process.stdout.write(`search: ${run.dir}/search.json\n`);
    if (run.warehouse?.ok) process.stdout.write(`warehouse: ${run.warehouse.path}\n`);
  }
  if (run.status === 'failed') {
    process.stderr.write(
      `infermark: run failed: ${scrubText(run.failure?.reason ?? 'no reason recorded')}\n` +
        `infermark: the run is sealed and kept (status failed): ${run.dir}\n`,
    );
  }
  if (run.warehouse && !run.warehouse.ok) {
    process.stderr.write(
      `infermark: not ingested into the warehouse ${run.warehouse.path}: ${run.warehouse.error}\n`,
    );
  }
  if (run.upload && !run.upload.ok) process.stderr.write(`infermark: upload failed: ${run.upload.error}\n`);
  if (group.interrupted) return ExitCode.interrupted;
  if (run.status === 'failed' || (run.warehouse && !run.warehouse.ok) || (run.upload && !run.upload.ok))
    return ExitCode.failure;
  return ExitCode.ok;
}

/**
 * The search's settings from spec.search and the flags (the flags win), and the job it runs:
 * its SLOs replaced by --slo when given, run once (the search repeats each probe itself).
 * Every bad flag or missing piece is reported at once.
 */
export function searchSettings(
  job: ValidatedJob,
  jobFile: string,
  flags: SearchFlags,
): { job: ValidatedJob; settings: SearchSettings } {
  const issues: ValidationIssue[] = [];
  const flag = (path: string, value: unknown, message: string): void => {
    issues.push({ file: 'command line', path, value, message });
  };
  const spec = job.spec.search;
  let slos: readonly Slo[] = job.parsed.slos;
  if (flags.slo && flags.slo.length > 0) {
    const parsed: Slo[] = [];
    for (const text of flags.slo) {
      const r = parseSlo(text);
      if (r.ok) parsed.push(r.slo);
      else flag('--slo', text, r.message);
    }
    slos = parsed;
  } else if (slos.length === 0) {
    issues.push({
      file: jobFile,
      path: 'spec.slos',
      message: "the search needs at least one SLO, e.g. 'p99_ttft_ms<=500' (or --slo)",
    });
  }
  const by = (flags.by ?? spec?.by ?? 'rate') as SearchBy;
  if (by !== 'rate' && by !== 'concurrency') flag('--by', flags.by, 'expected rate or concurrency');
  const limit = by === 'concurrency' ? MAX_CONCURRENCY : MAX_REQUEST_RATE_RPS;
  const number = (
    name: string,
    text: string | undefined,
    fallback: number,
    integer: boolean,
    max: number,
  ): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (
      text.trim() === '' ||
      !Number.isFinite(value) ||
      value <= 0 ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      flag(name, text, `expected ${integer ? 'an integer' : 'a number'} above 0 and at most ${max}`);
      return fallback;
    }
    return value;
  };
  const min = number('--min', flags.min, spec?.min ?? DEFAULT_SEARCH_MIN, by === 'concurrency', limit);
  const max = number('--max', flags.max, spec?.max ?? DEFAULT_SEARCH_MAX, by === 'concurrency', limit);
  if (min > max) flag('--max', flags.max ?? max, `must be at least the lowest load (${min})`);
  if (by === 'concurrency' && (!Number.isInteger(min) || !Number.isInteger(max))) {
    issues.push({
      file: jobFile,
      path: 'spec.search',
      value: { min, max },
      message: 'a concurrency search needs whole-number bounds',
    });
  }
  const maxProbes = number('--max-probes', flags.maxProbes, spec?.maxProbes ?? 12, true, MAX_SEARCH_PROBES);
  const precisionPercent = parsePercent(flags.precision, spec?.precisionPercent ?? 5, flag);
  const repeats = number('--repeats', flags.repeats, job.spec.repeats, true, MAX_REPEATS);
  const workers = flags.workers ?? job.spec.workers;
  if (workers !== undefined && workers !== 1 && workers !== '1') {
    issues.push({
      file: flags.workers !== undefined ? 'command line' : jobFile,
      path: flags.workers !== undefined ? '--workers' : 'spec.workers',
      value: workers,
      message:
        'a search runs in one process: each probe is decided from the one before, which a split run cannot do (use 1)',
    });
  }
  const scenarioText = flags.scenario ?? spec?.scenario;
  const scenarios = job.parsed.scenarios;
  const scenario =
    scenarioText !== undefined
      ? scenarios.find((s) => s.text === scenarioText)
      : scenarios.length === 1
        ? scenarios[0]
        : undefined;
  if (!scenario) {
    issues.push({
      file: flags.scenario !== undefined ? 'command line' : jobFile,
      path: flags.scenario !== undefined ? '--scenario' : 'spec.search.scenario',
      ...(scenarioText !== undefined ? { value: scenarioText } : {}),
      message: `a search probes one scenario: expected one of spec.trafficScenarios (${scenarios.map((s) => s.text).join(', ')})`,
    });
  }
  if (job.spec.trace) {
    issues.push({
      file: jobFile,
      path: 'spec.trace',
      value: job.spec.trace,
      message: 'a search probes a scenario at chosen loads; a trace sets its own (remove spec.trace)',
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const bounds = { min, max, precision: precisionPercent / 100, maxProbes, integer: by === 'concurrency' };
  const searchJob: ValidatedJob = {
    ...job,
    spec: {
      ...job.spec,
      slos: slos.map((s) => s.text),
      repeats: 1,
      workers: 1,
    },
    parsed: { ...job.parsed, slos },
  };
  return {
    job: searchJob,
    settings: { by, bounds, scenario: scenario as NonNullable<typeof scenario>, repeats },
  };
}

/** `10%`, `10` or `0.5%`: a percent above 0 and at most 100. */
function parsePercent(
  text: string | undefined,
  fallback: number,
  flag: (path: string, value: unknown, message: string) => void,
): number {
  if (text === undefined) return fallback;
  const value = Number(text.trim().replace(/%$/, ''));
  if (!Number.isFinite(value) || value < 0.1 || value > 100 || text.trim() === '') {
    flag('--precision', text, 'expected a percent from 0.1% to 100%, e.g. 10%');
    return fallback;
  }
  return value;
}
