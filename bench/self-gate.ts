/**
 * infermark's own operability budget, gated the way the harness document gates a
 * profiler: the client's overhead (CPU and wall per token and per request, timing
 * error against the simulator's known latency) and an accelerated soak of request
 * records through the append-only sink with rollover and retention (RSS growth per
 * 24h-equivalent, retained files and bytes, rollovers, pruned segments), checked
 * against bench/self-gate/budgets.json with the semantics of budget mode.
 *
 * Run: `npm run build && npm run bench:self-gate [-- --profile short|soak]
 * [--budgets bench/self-gate/budgets.json] [--out artifacts/self-gate.json]
 * [--baseline bench/self-gate/baseline.json] [--write-baseline PATH]`.
 * Exit: 0 every budget holds, 1 a budget fails, 2 bad input (arguments, a budgets
 * file that does not validate, a budget that matches no metric).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ExitCode, InfermarkError } from '../src/base/errors.js';
import { digestOf } from '../src/base/digest.js';
import {
  baselineSchema,
  budgetsSchema,
  readAsset,
  type Asset,
  type Baseline,
  type Budgets,
} from '../src/gate/assets.js';
import { median } from '../src/gate/checks.js';
import { budgetExitCode, flatBudgetChecks } from '../src/gate/flat-budget.js';
import { flattenMetrics, metricKeys, type MetricDef, type Measurements } from './self-gate/metrics.js';
import {
  measureOverhead,
  measureTiming,
  type OverheadConfig,
  type TimingConfig,
} from './self-gate/overhead.js';
import {
  failureDiagnostics,
  renderContext,
  renderFailures,
  renderTable,
  type ReportInput,
} from './self-gate/report.js';
import { runSoak, SECONDS_PER_DAY, type SoakConfig } from './self-gate/soak.js';

interface Profile {
  overhead: OverheadConfig;
  timing: TimingConfig;
  soak: SoakConfig;
}

const OVERHEAD: OverheadConfig = {
  streams: [8, 64],
  requests: 8_000,
  // Five, not three: on this shared host two of three repeats can land in one slow spell.
  repeats: 5,
  warmupRequests: 4_000,
  inputTokens: 16,
  outputTokens: 64,
};

const TIMING: TimingConfig = {
  ttftMs: 100,
  itlMs: 10,
  concurrency: 32,
  requests: 320,
  warmupRequests: 32,
  outputTokens: [30, 70],
};

/** A 24h-equivalent is counted at 10 req/s: 864,000 request records. */
const REFERENCE_RPS = 10;

const SOAK: Omit<SoakConfig, 'records' | 'maxSeconds'> = {
  referenceRps: REFERENCE_RPS,
  concurrency: 64,
  inputTokens: 16,
  outputTokens: 16,
  rolloverRecords: 10_000,
  retentionMaxSegments: 6,
  retentionMaxBytes: 32 * 2 ** 20,
  rssSampleMs: 100,
};

/**
 * short: CI's; its soak is a 6h-equivalent (a quarter of a 24h-equivalent; RSS
 * growth is still normalized to a 24h-equivalent), about 45 s in all on 2 cores.
 * soak: the whole 24h-equivalent, about 2.5 minutes on 2 cores. The time caps
 * stop a slow machine's soak early; `soak.equivalent_hours` then fails its budget.
 */
const PROFILES: Record<string, Profile> = {
  short: {
    overhead: OVERHEAD,
    timing: TIMING,
    soak: { ...SOAK, records: (REFERENCE_RPS * SECONDS_PER_DAY) / 4, maxSeconds: 90 },
  },
  soak: {
    overhead: OVERHEAD,
    timing: TIMING,
    soak: { ...SOAK, records: REFERENCE_RPS * SECONDS_PER_DAY, maxSeconds: 1_800 },
  },
};

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_BUDGETS = resolve(REPO_ROOT, 'bench/self-gate/budgets.json');
const DEFAULT_BASELINE = resolve(REPO_ROOT, 'bench/self-gate/baseline.json');

function badInput(message: string): InfermarkError {
  return new InfermarkError('E_SELF_GATE_INPUT', message, ExitCode.badInput);
}

function parse(): {
  profileName: string;
  budgets: string;
  out: string;
  baseline: string | null;
  writeBaseline: string | null;
} {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        profile: { type: 'string', default: 'short' },
        budgets: { type: 'string', default: DEFAULT_BUDGETS },
        out: { type: 'string', default: 'artifacts/self-gate.json' },
        baseline: { type: 'string' },
        'write-baseline': { type: 'string' },
      },
    }));
  } catch (error) {
    throw badInput((error as Error).message);
  }
  const profileName = values.profile as string;
  if (!(profileName in PROFILES))
    throw badInput(`--profile: "${profileName}": expected ${Object.keys(PROFILES).join(' or ')}`);
  const baseline = values.baseline ?? (existsSync(DEFAULT_BASELINE) ? DEFAULT_BASELINE : null);
  return {
    profileName,
    budgets: values.budgets as string,
    out: values.out as string,
    baseline,
    writeBaseline: values['write-baseline'] ?? null,
  };
}

/**
 * JSON as the repository's formatter writes it (prettier, width 110): two-space
 * indent, and an array of plain values on one line when the line fits, so a
 * checked-in baseline passes `prettier --check` as written.
 */
function jsonText(value: unknown): string {
  const text = JSON.stringify(value, null, 2).replace(
    /^( *)("[^"\n]*": )?\[\n((?:\1 {2}(?:-?[\d.eE+-]+|null|true|false|"[^"\n]*"),?\n)+)\1\]/gm,
    (whole, indent: string, key: string | undefined, body: string) => {
      const items = body
        .split('\n')
        .map((line) => line.trim().replace(/,$/, ''))
        .filter(Boolean);
      const inline = `${indent}${key ?? ''}[${items.join(', ')}]`;
      return inline.length + 1 <= 110 ? inline : whole;
    },
  );
  return `${text}\n`;
}

/** Where a path is, said from the working directory. */
function shown(path: string): string {
  return relative(process.cwd(), resolve(path)) || '.';
}

function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${line}\n`);
}

function machineOf(): { text: string; cpu_model: string; cores: number; node: string; platform: string } {
  const cpus = os.cpus();
  const cpuModel = cpus[0]?.model ?? 'unknown';
  return {
    text: `node ${process.version} on ${os.platform()}/${os.arch()}, ${cpus.length} × ${cpuModel}`,
    cpu_model: cpuModel,
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()}/${os.arch()}`,
  };
}

function baselineOf(
  fingerprint: string,
  measurements: Measurements,
  values: Map<string, number[]>,
  defs: Map<string, MetricDef>,
  machine: ReturnType<typeof machineOf>,
): Baseline {
  const metrics: Baseline['metrics'] = {};
  for (const [key, samples] of values) {
    const def = defs.get(key) as MetricDef;
    metrics[key] = {
      unit: def.unit,
      direction: def.direction,
      samples,
      sample_counts: samples.map(() => null),
    };
  }
  return baselineSchema.parse({
    format: 'infermark-baseline/v1',
    created_at: new Date().toISOString(),
    config_fingerprint: fingerprint,
    testbed: {
      client_cpu: machine.cpu_model,
      client_cores: machine.cores,
      node: machine.node,
      platform: machine.platform,
    },
    run_group_id: null,
    runs: [...measurements.overhead.runs, measurements.timing.run],
    metrics,
  });
}

/**
 * A budget that matches none of the keys this profile will report is found before
 * the measuring starts (the same check, on placeholder values), with the keys listed.
 */
function precheck(budgets: Asset<Budgets>, keys: string[]): void {
  try {
    flatBudgetChecks(budgets, new Map(keys.map((key) => [key, [0]])));
  } catch (error) {
    if (!(error instanceof InfermarkError)) throw error;
    throw new InfermarkError(
      error.code,
      `${error.message}\n  the self-gate's metrics: ${keys.join(', ')}`,
      error.exitCode,
    );
  }
}

async function main(): Promise<number> {
  const args = parse();
  const profile = PROFILES[args.profileName] as Profile;
  // Bad assets are found before minutes of measuring, not after.
  const budgets = await readAsset(args.budgets, budgetsSchema);
  precheck(budgets, metricKeys(profile.overhead.streams));
  const baseline = args.baseline ? await readAsset(args.baseline, baselineSchema) : null;
  const machine = machineOf();
  const t0 = performance.now();
  const phaseWall: Record<string, number> = {};
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    progress(`self-gate: ${name}...`);
    const start = performance.now();
    const result = await work();
    phaseWall[name] = (performance.now() - start) / 1000;
    return result;
  };
  const overhead = await phase('overhead', () => measureOverhead(profile.overhead));
  const timing = await phase('timing', () => measureTiming(profile.timing));
  const soak = await phase('soak', () => runSoak(profile.soak, progress));
  const measurements: Measurements = { overhead, timing, soak };
  const { values, defs } = flattenMetrics(measurements);

  const units = new Map([...defs].map(([key, def]) => [key, def.unit]));
  const checks = flatBudgetChecks(budgets, values, units);
  const exitCode = budgetExitCode(checks);
  const fingerprint = digestOf({ profile: args.profileName, ...profile });
  const baselineMedians = baseline
    ? new Map(Object.entries(baseline.value.metrics).map(([key, m]) => [key, median(m.samples)]))
    : null;
  const input: ReportInput = {
    profile: args.profileName,
    values,
    defs,
    checks,
    measurements,
    soakConfig: profile.soak,
    budgetsPath: shown(budgets.path),
    baseline: baselineMedians,
    machine: machine.text,
  };
  const failures = failureDiagnostics(input);
  const wallS = (performance.now() - t0) / 1000;
  const passed = checks.filter((c) => c.verdict === 'PASS').length;

  const out: string[] = [];
  out.push(
    `infermark self-gate (budget mode), profile ${args.profileName}: ${exitCode === 0 ? 'PASS' : 'FAIL'} · ${passed} of ${checks.length} budgets hold · ${wallS.toFixed(1)} s`,
  );
  out.push(machine.text);
  out.push(
    `24h-equivalent = ${soak.records_24h_equiv.toLocaleString('en-US')} request records (24 h at ${profile.soak.referenceRps} req/s), written without waiting; this soak wrote ${soak.records_written.toLocaleString('en-US')} (${soak.equivalent_hours.toFixed(1)} h-equivalent)`,
  );
  if (baseline) {
    const note = baseline.value.config_fingerprint === fingerprint ? '' : ', another profile or config';
    out.push(
      `baseline column: ${shown(baseline.path)}, measured on ${String(baseline.value.testbed.client_cores)} × ${String(baseline.value.testbed.client_cpu)}${note}; for reference, not gated`,
    );
  }
  out.push('', renderTable(input), '', renderContext(input));
  if (failures.length > 0) out.push('', renderFailures(failures));
  out.push(
    '',
    `phases: overhead ${phaseWall.overhead?.toFixed(1)} s, timing ${phaseWall.timing?.toFixed(1)} s, soak ${phaseWall.soak?.toFixed(1)} s · budgets ${shown(budgets.path)} (${budgets.sha256.slice(7, 19)}) · report ${shown(args.out)}`,
  );
  console.log(out.join('\n'));

  const report = {
    format: 'infermark-self-gate/v1',
    created_at: new Date().toISOString(),
    profile: args.profileName,
    gate_mode: 'budget',
    passed: exitCode === 0,
    exit_code: exitCode,
    wall_s: wallS,
    phase_wall_s: phaseWall,
    machine,
    config: profile,
    config_fingerprint: fingerprint,
    definitions: {
      '24h_equivalent': `${soak.records_24h_equiv} request records: 24 h × 3,600 s × ${profile.soak.referenceRps} req/s, written as fast as the client and simulator go`,
      rss_growth_per_24h_equiv_bytes:
        'least-squares slope of RSS (after a forced GC, at each rollover from the baseline after the first segment on) against records written, × the records of a 24h-equivalent',
      segment: 'one sealed run folder (one iteration, one requests.jsonl) of at most rolloverRecords records',
      retention:
        'after each segment, the oldest segments are deleted while more than retentionMaxSegments are kept or they hold more than retentionMaxBytes',
    },
    metrics: Object.fromEntries(
      [...values].map(([key, samples]) => [key, { value: median(samples), samples, ...defs.get(key) }]),
    ),
    budgets: { path: budgets.path, sha256: budgets.sha256 },
    baseline: baseline ? { path: baseline.path, sha256: baseline.sha256 } : null,
    budget_checks: checks,
    failure_diagnostics: failures,
    measurements,
  };
  await mkdir(dirname(resolve(args.out)), { recursive: true });
  await writeFile(args.out, jsonText(report));
  if (args.writeBaseline) {
    const written = baselineOf(fingerprint, measurements, values, defs, machine);
    await mkdir(dirname(resolve(args.writeBaseline)), { recursive: true });
    await writeFile(args.writeBaseline, jsonText(written));
    console.log(`baseline written to ${shown(args.writeBaseline)}`);
  }
  return exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof InfermarkError) {
      console.error(`self-gate: ${error.message}`);
      process.exitCode = error.exitCode;
    } else {
      console.error(error);
      process.exitCode = ExitCode.failure;
    }
  },
);
