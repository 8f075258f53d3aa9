/**
 * `infermark slo propose RUN` and `infermark slo export SLOFILE|RUN`: SLOs from measured
 * points, stated with their confidence interval and sample size, then the Prometheus
 * recording and burn-rate alert rules and the three Grafana dashboards that watch them in
 * production. RUN is a run folder (read directly) or a run id in the warehouse.
 */
import type { Command } from 'commander';
import { stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.js';
import { collect } from './run-flags.js';
import type { Proposal, ProposeOptions } from '../slo/propose.js';
import type { ProposeMetricName } from '../slo/points.js';
import type { Engine, ExportMetric } from '../slo/engine-metrics.js';
import type { Slo } from '../spec/slo-types.js';

interface ProposeFlags {
  snap?: string;
  /** Snap only the metrics the engine has a histogram of (export from a run). */
  snapLenient?: boolean;
  /** Bucket boundaries (s) the deployment set itself, for the snap (export's --buckets). */
  snapBuckets?: Partial<Record<ExportMetric, number[]>>;
  load?: string;
  scenario?: string;
  percentile: string;
  margin: string;
  metric: string;
  confidence: string;
  warehouse?: string;
  json?: boolean;
  out: string;
}

interface ExportFlags extends Omit<ProposeFlags, 'json' | 'out'> {
  model?: string;
  engine: string;
  out: string;
  objective?: string;
  availability?: string;
  selector?: string;
  buckets?: string[];
}

function bad(path: string, value: unknown, message: string): never {
  throw new ValidationError([{ path, value, message }]);
}

/** `20%` or `0.2` → 0.2; `99%` → 0.99. */
export function parseShare(flag: string, text: string, allowZero = false): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match ? Number(match[1]) / (match[2] === '%' ? 100 : 1) : Number.NaN;
  if (!(Number.isFinite(value) && (allowZero ? value >= 0 : value > 0))) {
    bad(flag, text, `expected a share such as 20% or 0.2`);
  }
  // `20` is a slip for 20%, not 2000%: above 1 the share must say %.
  if (match?.[2] !== '%' && value > 1)
    bad(flag, text, `expected a share such as 20% or 0.2 (write ${text}% for percent)`);
  return value;
}

/** `p99`, `99`, `p99.9` → 99, 99.9. */
function parsePercentile(text: string): number {
  const match = /^\s*p?(\d+(?:\.\d+)?)\s*$/.exec(text);
  const value = match ? Number(match[1]) : Number.NaN;
  if (!(value > 0 && value < 100))
    bad('--percentile', text, 'expected a percentile such as p99, p95 or p99.9');
  return value;
}

function proposeCommon(command: Command): Command {
  return command
    .option('--scenario <scenario>', 'the scenario (required when the run has several)')
    .option('--load <load>', 'concurrency or rate of the point (default: the highest load with no errors)')
    .option('--percentile <p>', 'the percentile the SLOs bound', 'p99')
    .option('--margin <share>', 'headroom over the measured percentile', '20%')
    .option('--metric <list>', 'metrics: ttft, tpot, e2e (comma-separated)', 'ttft,e2e')
    .option('--confidence <share>', 'confidence of the interval for each percentile', '95%')
    .option('--warehouse <path>', 'warehouse file, when RUN is a run id');
}

export function registerSloCommands(program: Command): void {
  const slo = program
    .command('slo')
    .description('SLOs from measured points, and the rules and dashboards that watch them');
  proposeCommon(
    slo
      .command('propose')
      .description(
        'propose SLOs from a run: a percentile at one load with its confidence interval, plus a margin',
      )
      .argument('<run>', 'the run folder, or a run_id (or unique prefix) in the warehouse'),
  )
    .option(
      '--snap <engine>',
      "round each threshold up to that engine's histogram bucket boundary (vllm, sglang, tgi)",
    )
    .option('--json', 'print the proposal as JSON')
    .option('-o, --out <file>', 'the SLO file to write (its slos lines go into spec.slos)', 'slos.yaml')
    .action(async (run: string, flags: ProposeFlags) => {
      process.exitCode = await sloProposeCommand(run, flags);
    });
  proposeCommon(
    slo
      .command('export')
      .description('Prometheus recording and burn-rate alert rules, and Grafana dashboards, for SLOs')
      .argument('<source>', 'an SLO file (slos:, a job file, or a list), or a run to propose from first'),
  )
    .option('--model <name>', 'the served model, as the engine labels it (model_name)')
    .option('--engine <engine>', 'vllm, sglang, tgi or llamacpp', 'vllm')
    .option('--out <dir>', 'folder for rules.yaml and the dashboards', 'slo-export')
    .option('--objective <share>', 'share of requests that must meet each SLO (default: its percentile)')
    .option('--availability <share>', 'share of requests that must not fail (adds failure burn-rate alerts)')
    .option('--selector <matchers>', 'extra PromQL label matchers, e.g. namespace="prod"')
    .option(
      '--buckets <metric=list>',
      "bucket boundaries in seconds where the engine's were changed, e.g. ttft=0.1,0.25,0.5 (repeatable)",
      collect,
    )
    .action(async (source: string, flags: ExportFlags) => {
      process.exitCode = await sloExportCommand(source, flags);
    });
}

/** The proposal for a run folder or warehouse run, and the run's id. */
async function propose(
  run: string,
  flags: Omit<ProposeFlags, 'json' | 'out'>,
): Promise<{ proposal: Proposal; runId: string; folder?: string }> {
  const { PROPOSE_METRICS, poolIterations } = await import('../slo/points.js');
  const metrics = flags.metric.split(',').map((m) => m.trim());
  for (const m of metrics) {
    if (!(m in PROPOSE_METRICS))
      bad(
        '--metric',
        flags.metric,
        `expected a comma-separated list of ${Object.keys(PROPOSE_METRICS).join(', ')}`,
      );
  }
  // `8rps` / `8 req/s`: a rate; `c8`: a concurrency; `8`: whichever the scenario ran.
  const loadMatch =
    flags.load === undefined ? null : /^\s*(c)?\s*(\d+(?:\.\d+)?)\s*(rps|req\/s)?\s*$/i.exec(flags.load);
  if (
    flags.load !== undefined &&
    (!loadMatch || (loadMatch[1] && loadMatch[3]) || !(Number(loadMatch[2]) > 0))
  )
    bad('--load', flags.load, 'expected a concurrency (8 or c8) or a rate (8rps)');
  const load = loadMatch ? Number(loadMatch[2]) : undefined;
  const loadKind = loadMatch?.[1] ? 'concurrency' : loadMatch?.[3] ? 'rate' : undefined;
  const options: ProposeOptions = {
    ...(flags.scenario === undefined ? {} : { scenario: flags.scenario }),
    ...(load === undefined ? {} : { load }),
    ...(loadKind === undefined ? {} : { loadKind }),
    percentile: parsePercentile(flags.percentile),
    margin: parseShare('--margin', flags.margin, true),
    metrics: metrics as ProposeMetricName[],
    level: parseShare('--confidence', flags.confidence),
  };
  if (!(options.level < 1)) bad('--confidence', flags.confidence, 'expected a share below 100%, such as 95%');
  if (flags.snap !== undefined) {
    options.snap = await snapBoundaries(
      flags.snap,
      metrics as ProposeMetricName[],
      flags.snapLenient === true,
      flags.snapBuckets ?? {},
    );
  }
  const { reportSubject } = await import('./report-subject.js');
  const subject = await reportSubject(run, '<run>');
  const { proposeSlos } = await import('../slo/propose.js');
  if (subject.folder !== undefined) {
    const { runFolderIterations } = await import('../slo/run-folder-points.js');
    const points = poolIterations(await runFolderIterations(subject.folder));
    return { proposal: proposeSlos(points, options), runId: subject.id, folder: subject.folder };
  }
  const { withWarehouse } = await import('./warehouse-common.js');
  let result: { proposal: Proposal; runId: string } | undefined;
  await withWarehouse({ warehouse: flags.warehouse }, true, async (w) => {
    const { resolveRunId } = await import('../warehouse/queries.js');
    const { warehouseIterations } = await import('../slo/warehouse-points.js');
    const runId = await resolveRunId(w, subject.id);
    result = { proposal: proposeSlos(poolIterations(await warehouseIterations(w, runId)), options), runId };
  });
  return result as { proposal: Proposal; runId: string };
}

/** The default bucket boundaries (ms) of `engine`'s histogram for each metric, for --snap. */
async function snapBoundaries(
  engine: string,
  metrics: readonly ProposeMetricName[],
  lenient: boolean,
  buckets: Partial<Record<ExportMetric, number[]>>,
): Promise<{ engine: string; boundaries_ms: Partial<Record<ProposeMetricName, number[]>> }> {
  const { ENGINES, engineHistogram } = await import('../slo/engine-metrics.js');
  const { PROPOSE_METRICS } = await import('../slo/points.js');
  if (!(ENGINES as readonly string[]).includes(engine))
    bad('--snap', engine, `expected one of ${ENGINES.join(', ')}`);
  const boundaries_ms: Partial<Record<ProposeMetricName, number[]>> = {};
  for (const metric of metrics) {
    const field = PROPOSE_METRICS[metric];
    const histogram = engineHistogram(engine as Engine, field, buckets[field]);
    if ('missing' in histogram) {
      if (lenient) continue;
      bad('--snap', engine, histogram.missing);
    }
    boundaries_ms[metric] = histogram.buckets_s.map((b) => Number((b * 1000).toPrecision(12)));
  }
  return { engine, boundaries_ms };
}

export async function sloProposeCommand(run: string, flags: ProposeFlags): Promise<number> {
  const { proposal, runId, folder } = await propose(run, flags);
  const { describeProposed, sloFileYaml } = await import('../slo/slo-file.js');
  if (flags.out !== '-')
    await writeFile(flags.out, sloFileYaml(proposal, { run_id: runId, ...(folder ? { folder } : {}) }));
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ run_id: runId, ...proposal, slo_file: flags.out === '-' ? null : flags.out }, null, 2)}\n`,
    );
    return 0;
  }
  const lines = [
    `run ${runId}, scenario ${proposal.scenario}`,
    `load: ${proposal.load_reason}; error rate ${proposal.error_rate}`,
    ...proposal.slos.flatMap((s) => [`  ${describeProposed(s)}`, ...(s.note ? [`    note: ${s.note}`] : [])]),
    flags.out === '-' ? '' : `SLO file: ${flags.out} (its slos lines go into spec.slos)`,
  ];
  if (flags.out === '-') process.stdout.write(sloFileYaml(proposal, { run_id: runId }));
  else process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

function parseBuckets(values: readonly string[] | undefined): Partial<Record<ExportMetric, number[]>> {
  const names: Record<string, ExportMetric> = { ttft: 'ttft_ms', tpot: 'tpot_ms', e2e: 'e2e_latency_ms' };
  const out: Partial<Record<ExportMetric, number[]>> = {};
  for (const value of values ?? []) {
    const match = /^(ttft|tpot|e2e)=([0-9.,\s]+)$/.exec(value.trim());
    const list = match ? (match[2] as string).split(',').map((v) => Number(v.trim())) : [];
    if (!match || list.length === 0 || list.some((v) => !(Number.isFinite(v) && v > 0))) {
      bad(
        '--buckets',
        value,
        'expected metric=boundaries in seconds, e.g. ttft=0.1,0.25,0.5 (metric: ttft, tpot or e2e)',
      );
    }
    out[names[match[1] as string] as ExportMetric] = list;
  }
  return out;
}

export async function sloExportCommand(source: string, flags: ExportFlags): Promise<number> {
  const { ENGINES } = await import('../slo/engine-metrics.js');
  if (!(ENGINES as readonly string[]).includes(flags.engine))
    bad('--engine', flags.engine, `expected one of ${ENGINES.join(', ')}`);
  if (flags.model === undefined || flags.model.trim() === '')
    bad('--model', flags.model, 'the served model name is required (as the engine labels it)');
  const info = await stat(source).catch(() => undefined);
  let slos: Slo[];
  let provenance: string;
  if (info?.isFile()) {
    const { readSloFile } = await import('../slo/slo-file.js');
    slos = await readSloFile(source);
    provenance = `SLOs from the file \`${source.split(/[\\/]/).pop() ?? source}\`: ${slos.map((s) => `\`${s.text}\``).join(', ')}.`;
  } else {
    // Proposed for this engine: each threshold rounded up to its bucket boundary, so the SLI is exact.
    const { proposal, runId } = await propose(source, {
      ...flags,
      snap: flags.engine,
      snapLenient: true,
      snapBuckets: parseBuckets(flags.buckets),
    });
    const { parseSlo } = await import('../spec/slo.js');
    slos = proposal.slos.map((s) => {
      const parsed = parseSlo(s.slo);
      if (!parsed.ok) throw new Error(`internal: proposed SLO ${s.slo} does not parse`);
      return parsed.slo;
    });
    const { describeProposed } = await import('../slo/slo-file.js');
    provenance = [
      `Proposed by \`infermark slo propose\` from benchmark run \`${runId}\`, scenario \`${proposal.scenario}\`, ${proposal.load_reason}:`,
      '',
      ...proposal.slos.map((s) => `- ${describeProposed(s)}`),
    ].join('\n');
  }
  const { planExport } = await import('../slo/export-plan.js');
  const plan = planExport(slos, {
    engine: flags.engine as Engine,
    model: flags.model,
    ...(flags.selector === undefined ? {} : { selector: flags.selector }),
    ...(flags.objective === undefined ? {} : { objective: parseShare('--objective', flags.objective) }),
    ...(flags.availability === undefined
      ? {}
      : { availability: parseShare('--availability', flags.availability) }),
    buckets: parseBuckets(flags.buckets),
  });
  const { rulesYaml } = await import('../slo/rules.js');
  const { dashboards } = await import('../slo/dashboards.js');
  await mkdir(flags.out, { recursive: true });
  const written: string[] = [];
  const rulesFile = join(flags.out, 'rules.yaml');
  await writeFile(
    rulesFile,
    rulesYaml(plan, [
      `infermark slo export: ${plan.targets.map((t) => t.slo).join(', ')} for ${plan.model} on ${plan.engine}`,
      ...plan.targets.map(
        (t) =>
          `${t.slo}: objective ${t.objective}, SLI = share of ${t.histogram.name} within ${t.le_s} s${t.note ? ` (${t.note})` : ''}`,
      ),
      'Check with: promtool check rules rules.yaml',
    ]),
  );
  written.push(rulesFile);
  for (const [name, board] of Object.entries(dashboards(plan, provenance))) {
    const file = join(flags.out, name);
    await writeFile(file, `${JSON.stringify(board, null, 2)}\n`);
    written.push(file);
  }
  const lines = [
    ...plan.targets.map(
      (t) => `${t.slo}: objective ${t.objective * 100}%, SLI from ${t.histogram.name}_bucket{le≤${t.le_s}}`,
    ),
    ...plan.skipped.map((s) => `skipped ${s}`),
    ...plan.warnings.map((w) => `warning: ${w}`),
    ...written.map((f) => `wrote ${f}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
