/**
 * telemetry_slice_fact's rows from one target's scrapes of one iteration (migration 6,
 * docs/telemetry.md). Between every two consecutive successful scrapes is a window
 * [previous done_at_us, this done_at_us] on the records' clock; each series of a known
 * family (metrics/telemetry-families.ts) gets its rows over it: a gauge its mean (the
 * trapezoid of the two samples) and max, a counter its rate per second (a reset, the value
 * going down, counts the new value as the increase, as Prometheus' rate() does), a histogram
 * its mean (Δsum / Δcount; no row when nothing was observed). Each row is scoped to what it
 * describes: the GPU (dcgm-exporter's UUID), the node, the pod, or the server, and points at
 * the scrape that closes its window. The iteration-level rows (scope `iteration`) cover every
 * series the guard kept. Scrapes are read one at a time: only the previous one's known
 * series are held.
 */
import {
  familyOfPrometheusName,
  TELEMETRY_FAMILIES,
  type TelemetryFamily,
  type TelemetryFamilyName,
  type TelemetryRole,
} from '../metrics/telemetry-families.js';
import {
  labelOf,
  parsePrometheus,
  seriesText,
  type ParsedScrape,
  type PromSample,
} from '../telemetry/prom-parse.js';
import type { TargetScrapes } from '../telemetry/scrape-files.js';
import { ScrapeSeries } from './prometheus-text.js';

/** One row of telemetry_slice_fact (ingested_at is the caller's). */
export interface TelemetryRow {
  run_id: string;
  iteration: number;
  window_start_us: number | null;
  window_end_us: number | null;
  window_start: string | null;
  window_end: string | null;
  scope: 'iteration' | 'gpu' | 'node' | 'pod' | 'server' | 'cluster';
  scope_id: string;
  target: string;
  role: TelemetryRole;
  family: string | null;
  stat: string | null;
  node_name: string | null;
  gpu_uuid: string | null;
  pod: string | null;
  series: string | null;
  metric: string;
  value: number;
  unit: string | null;
  /** Relative to the run folder: the scrape that closes the window (iteration rows: the last one). */
  source_path: string;
}

/** What the scrapes say about the hardware and software (dcgm-exporter's labels). */
export interface RevealedHardware {
  gpu_models: Set<string>;
  gpu_uuids: Set<string>;
  driver_versions: Set<string>;
  cuda_versions: Set<string>;
  hostnames: Set<string>;
}

export function emptyRevealed(): RevealedHardware {
  return {
    gpu_models: new Set(),
    gpu_uuids: new Set(),
    driver_versions: new Set(),
    cuda_versions: new Set(),
    hostnames: new Set(),
  };
}

/** Where a series belongs: its scope and the identities known for it. */
interface Scope {
  scope: TelemetryRow['scope'];
  scope_id: string;
  node_name: string | null;
  gpu_uuid: string | null;
  pod: string | null;
}

/** One known series in one scrape: a gauge's or counter's value, or a histogram's sum and count. */
interface KnownPoint {
  family: TelemetryFamily;
  series: string;
  scope: Scope;
  value: number;
  /** Histograms: Δsum over Δcount. */
  sum?: number;
  count?: number;
}

interface Taken {
  at_us: number;
  at: string | null;
  points: Map<string, KnownPoint>;
}

/** Distinct series one target may bring into one iteration's rows (twice a scrape's guard). */
export const MAX_SERIES_PER_TARGET_ITERATION = 40_000;

export interface TargetRowsResult {
  rows: TelemetryRow[];
  /** Import notes: scrapes not read back, series the guard dropped. */
  notes: string[];
  windows: number;
}

/**
 * The rows of one target's scrapes of one iteration. `iterationPath` is the iteration's
 * folder relative to the run folder (`iterations/003`), so source_path is the run folder's
 * own path of the scrape (a run_artifact path).
 */
export async function targetTelemetryRows(
  runId: string,
  iteration: number,
  iterationPath: string,
  target: TargetScrapes,
  revealed: RevealedHardware,
): Promise<TargetRowsResult> {
  const rows: TelemetryRow[] = [];
  const notes: string[] = [];
  const series = new ScrapeSeries(target.window);
  let prev: Taken | null = null;
  // Where each series was seen: the iteration rows carry its node, GPU and pod too.
  const scopes = new Map<string, Scope>();
  let lastPath: string | null = null;
  let dropped = 0;
  let bad = 0;
  const seen = new Set<string>();
  let churned = 0;
  let windows = 0;
  const base = {
    run_id: runId,
    iteration,
    target: target.target,
    role: target.role,
  };
  for (const sample of target.samples) {
    let text: string;
    try {
      text = await sample.text();
    } catch (error) {
      notes.push(`${iterationPath}/${sample.file}: not read (${(error as Error).message})`);
      continue;
    }
    const whole = parsePrometheus(text);
    // Series that come and go (pods, ids in labels) must not grow an iteration's rows without end.
    const parsed = {
      ...whole,
      samples: whole.samples.filter((s) => {
        if (seen.has(s.series)) return true;
        if (seen.size >= MAX_SERIES_PER_TARGET_ITERATION) {
          churned++;
          return false;
        }
        seen.add(s.series);
        return true;
      }),
    };
    dropped += parsed.dropped_series;
    bad += parsed.bad_lines;
    series.addParsed(parsed, sample.at_us);
    if (target.role === 'gpu') reveal(parsed, revealed);
    const path = `${iterationPath}/${sample.file}`;
    lastPath = path;
    const context = scrapeContext(parsed, target);
    for (const sample of parsed.samples)
      if (!scopes.has(sample.series)) scopes.set(sample.series, scopeOf(sample, target, context));
    const points = knownPoints(parsed, target, context);
    if (prev !== null && sample.at_us !== null && sample.at_us > prev.at_us) {
      windows++;
      const window = {
        window_start_us: prev.at_us,
        window_end_us: sample.at_us,
        window_start: prev.at,
        window_end: sample.at,
      };
      const seconds = (sample.at_us - prev.at_us) / 1e6;
      for (const [key, point] of points) {
        const before = prev.points.get(key);
        if (!before) continue;
        for (const [stat, value] of windowStats(point, before, seconds)) {
          rows.push({
            ...base,
            ...window,
            ...point.scope,
            family: point.family.name,
            stat,
            series: point.series,
            metric: point.family.name,
            value,
            unit: point.family.unit,
            source_path: path,
          });
        }
      }
    }
    prev = sample.at_us === null ? null : { at_us: sample.at_us, at: sample.at, points };
  }
  if (dropped > 0)
    notes.push(
      `${iterationPath}/telemetry/${target.target}: the cardinality guard dropped ${dropped} series over the iteration's scrapes`,
    );
  if (churned > 0)
    notes.push(
      `${iterationPath}/telemetry/${target.target}: ${churned} samples of series past the first ${MAX_SERIES_PER_TARGET_ITERATION} of the iteration were not kept`,
    );
  if (bad > 0) notes.push(`${iterationPath}/telemetry/${target.target}: ${bad} lines could not be read`);
  if (lastPath !== null) {
    const targetScope = scopeOfTarget(target);
    for (const slice of series.namedSlices()) {
      const family = knownFamily(slice.name);
      const scope = scopes.get(slice.series) ?? targetScope;
      rows.push({
        ...base,
        window_start_us: null,
        window_end_us: null,
        window_start: null,
        window_end: null,
        scope: 'iteration',
        scope_id: String(iteration),
        family: family?.name ?? null,
        stat: null,
        node_name: scope.node_name,
        gpu_uuid: scope.gpu_uuid,
        pod: scope.pod,
        series: slice.series,
        metric: slice.metric,
        value: slice.value,
        unit: slice.unit,
        source_path: lastPath,
      });
    }
  }
  return { rows, notes, windows };
}

/** The stats of a window, from the points that close and open it. */
function windowStats(point: KnownPoint, before: KnownPoint, seconds: number): [string, number][] {
  const { family } = point;
  const scale = family.percent ? 1 / 100 : 1;
  if (family.kind === 'gauge') {
    if (!Number.isFinite(point.value) || !Number.isFinite(before.value)) return [];
    return [
      ['mean', ((point.value + before.value) / 2) * scale],
      ['max', Math.max(point.value, before.value) * scale],
    ];
  }
  if (family.kind === 'counter') {
    if (!Number.isFinite(point.value) || !Number.isFinite(before.value) || seconds <= 0) return [];
    const increase = point.value >= before.value ? point.value - before.value : point.value;
    return [['rate', (increase / seconds) * scale]];
  }
  const [sum, count] = [point.sum ?? NaN, point.count ?? NaN];
  const [sum0, count0] = [before.sum ?? NaN, before.count ?? NaN];
  if (![sum, count, sum0, count0].every(Number.isFinite)) return [];
  // A reset: what was observed since is all there is.
  const [dSum, dCount] = count >= count0 ? [sum - sum0, count - count0] : [sum, count];
  return dCount > 0 ? [['hist_mean', (dSum / dCount) * scale]] : [];
}

/** A known family by a sample's name: as exposed, or a histogram's less `_sum`/`_count`. */
function knownFamily(name: string): TelemetryFamily | undefined {
  const direct = familyOfPrometheusName(name);
  if (direct) return direct;
  const m = /^(.*)_(sum|count)$/.exec(name);
  const base = m ? familyOfPrometheusName(m[1] as string) : undefined;
  return base?.kind === 'histogram' ? base : undefined;
}

/** The known series of one scrape, keyed so the same series meets itself in the next scrape. */
function knownPoints(
  parsed: ParsedScrape,
  target: TargetScrapes,
  context: ScrapeContext,
): Map<string, KnownPoint> {
  const points = new Map<string, KnownPoint>();
  for (const sample of parsed.samples) {
    const family = knownFamily(sample.name);
    if (!family) continue;
    const scope = scopeOf(sample, target, context);
    if (family.name === 'node_cpu_busy') {
      // CPU seconds outside idle, summed over every core and mode: one series per node.
      if (labelOf(sample, 'mode') === 'idle') continue;
      const key = `${family.name}|${scope.scope_id}`;
      const point = points.get(key);
      if (point) point.value += sample.value;
      else
        points.set(key, {
          family,
          series: `${sample.name}{mode!="idle"}`,
          scope,
          value: sample.value,
        });
      continue;
    }
    if (family.kind === 'histogram') {
      const part = sample.name.endsWith('_sum') ? 'sum' : sample.name.endsWith('_count') ? 'count' : null;
      if (part === null) continue;
      const baseSeries = seriesText(sample.name.slice(0, -part.length - 1), sample.labels);
      const key = `${family.name}|${baseSeries}`;
      const point = points.get(key) ?? { family, series: baseSeries, scope, value: NaN };
      point[part] = sample.value;
      points.set(key, point);
      continue;
    }
    points.set(`${family.name}|${sample.series}`, {
      family,
      series: sample.series,
      scope,
      value: sample.value,
    });
  }
  return firstSpellingOnly(points);
}

/**
 * One spelling per family and scrape, the first its registry entry lists: vLLM exposes
 * `vllm:kv_cache_usage_perc` and the older `vllm:gpu_cache_usage_perc` side by side, and
 * the two must not count as two series of one family.
 */
function firstSpellingOnly(points: Map<string, KnownPoint>): Map<string, KnownPoint> {
  const nameOf = (point: KnownPoint): string => point.series.replace(/\{.*$/s, '');
  const present = new Map<string, Set<string>>();
  for (const point of points.values()) {
    const names = present.get(point.family.name) ?? new Set<string>();
    names.add(nameOf(point));
    present.set(point.family.name, names);
  }
  const chosen = new Map<string, string>();
  for (const [family, names] of present) {
    if (names.size < 2) continue;
    const spellings = Object.values(TELEMETRY_FAMILIES[family as TelemetryFamilyName].spellings).flat();
    const first = spellings.find((name) => names.has(name));
    if (first !== undefined) chosen.set(family, first);
  }
  if (chosen.size === 0) return points;
  return new Map(
    [...points].filter(([, point]) => {
      const name = chosen.get(point.family.name);
      return name === undefined || nameOf(point) === name;
    }),
  );
}

/** What a scrape says about where its series run: the node's name, and each pod's node. */
interface ScrapeContext {
  nodename: string | null;
  podNode: Map<string, string>;
}

function scrapeContext(parsed: ParsedScrape, target: TargetScrapes): ScrapeContext {
  const context: ScrapeContext = { nodename: null, podNode: new Map() };
  if (target.role === 'node') {
    const uname = parsed.samples.find((s) => s.name === 'node_uname_info');
    context.nodename = (uname && labelOf(uname, 'nodename')) ?? null;
  } else if (target.role === 'cluster') {
    for (const s of parsed.samples) {
      if (s.name !== 'kube_pod_info') continue;
      const pod = labelOf(s, 'pod');
      const node = labelOf(s, 'node');
      if (pod && node) context.podNode.set(pod, node);
    }
  }
  return context;
}

/** The scope the target's own labels give (server rows, iteration rows). */
function scopeOfTarget(target: TargetScrapes): Scope {
  return {
    scope: 'server',
    scope_id: target.target,
    node_name: target.labels.node_name ?? null,
    gpu_uuid: target.labels.gpu_uuid ?? null,
    pod: target.labels.pod ?? null,
  };
}

/** Where one series belongs, by its target's role (docs/telemetry.md, "Scope"). */
function scopeOf(sample: PromSample, target: TargetScrapes, context: ScrapeContext): Scope {
  const own = scopeOfTarget(target);
  switch (target.role) {
    case 'gpu': {
      const uuid = labelOf(sample, 'UUID') ?? own.gpu_uuid;
      const gpu = labelOf(sample, 'gpu');
      return {
        scope: 'gpu',
        scope_id: uuid ?? `${target.target}/gpu${gpu ?? ''}`,
        node_name: labelOf(sample, 'Hostname') ?? own.node_name,
        gpu_uuid: uuid,
        pod: labelOf(sample, 'pod') ?? own.pod,
      };
    }
    case 'node': {
      const node = own.node_name ?? context.nodename ?? target.target;
      return { scope: 'node', scope_id: node, node_name: node, gpu_uuid: null, pod: own.pod };
    }
    case 'cluster': {
      const pod = labelOf(sample, 'pod');
      if (pod === undefined) return { ...own, scope: 'cluster' };
      return {
        scope: 'pod',
        scope_id: pod,
        node_name: context.podNode.get(pod) ?? labelOf(sample, 'node') ?? own.node_name,
        gpu_uuid: null,
        pod,
      };
    }
    default:
      return own;
  }
}

/** dcgm-exporter's labels: GPU model and UUID, driver and CUDA versions, host. */
export function reveal(parsed: ParsedScrape, revealed: RevealedHardware): void {
  for (const sample of parsed.samples) {
    if (!sample.name.startsWith('DCGM_FI_')) continue;
    const add = (set: Set<string>, value: string | undefined): void => {
      if (value !== undefined && value !== '' && set.size < 1024) set.add(value);
    };
    add(revealed.gpu_models, labelOf(sample, 'modelName'));
    add(revealed.gpu_uuids, labelOf(sample, 'UUID'));
    add(revealed.driver_versions, labelOf(sample, 'DCGM_FI_DRIVER_VERSION'));
    add(
      revealed.cuda_versions,
      labelOf(sample, 'DCGM_FI_CUDA_DRIVER_VERSION') ?? labelOf(sample, 'cuda_version'),
    );
    add(revealed.hostnames, labelOf(sample, 'Hostname'));
  }
}
