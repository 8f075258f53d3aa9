/**
 * Server /metrics scrapes (Prometheus text format) turned into telemetry slices:
 * what the server did over an iteration. Counters give their increase, gauges
 * their max and mean under load (scraped on an interval: a gauge read after the
 * load drained says nothing), histograms and summaries their mean (Δsum / Δcount).
 * Label sets stay in the metric name; a scrape's labels are the server's own and
 * few (vLLM's `model_name`, `engine`), so this does not explode cardinality.
 */
import { readIterationScrapes } from '../telemetry/scrape-files.js';

export interface TelemetrySlice {
  /** `vllm:num_preemptions_total{model_name="m"}`, `<gauge>:max{…}` / `<gauge>:mean{…}`, or `<histogram>:mean{…}`. */
  metric: string;
  value: number;
  unit: string | null;
}
interface Parsed {
  types: Map<string, string>;
  samples: Map<string, number>;
}

/** Parses the text format: `# TYPE` lines and `name{labels} value [timestamp]` samples. */
export function parsePrometheusText(text: string): Parsed {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types.set(type[1] as string, type[2] as string);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?)\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) samples.set(match[1] as string, value);
  }
  return { types, samples };
}

/**
 * The slices of a series of scrapes taken over one iteration, fed in the order
 * taken (one at a time, so an iteration's scrapes are never all in memory).
 * Counters and histograms: last scrape against the first. Gauges: their max and
 * time-weighted mean (trapezoids between samples) over the scrapes taken inside
 * the measured window; an iteration too short for any scrape inside its window
 * (or with no window known) falls back to every scrape it has, and says so in the unit.
 */
export class ScrapeSeries {
  private readonly types = new Map<string, string>();
  private first: Map<string, number> | null = null;
  private last = new Map<string, number>();
  private readonly inWindow = new Map<string, GaugeTrack>();
  private readonly overall = new Map<string, GaugeTrack>();

  constructor(private readonly window: { start_us: number; end_us: number } | null) {}

  /** One scrape's text, taken at `at_us` on the records' clock (null when unknown). */
  add(text: string, at_us: number | null): void {
    const parsed = parsePrometheusText(text);
    for (const [family, type] of parsed.types) this.types.set(family, type);
    this.first ??= parsed.samples;
    this.last = parsed.samples;
    // Without a window (no measured request, or a folder from before the index) every scrape counts.
    const inside =
      this.window !== null && at_us !== null && at_us >= this.window.start_us && at_us <= this.window.end_us;
    for (const [series, value] of parsed.samples) {
      const type = this.types.get(familyOf(series.replace(/\{.*$/, ''), this.types));
      if (type !== 'gauge' && type !== 'untyped' && type !== undefined) continue;
      track(this.overall, series, value, at_us);
      if (inside) track(this.inWindow, series, value, at_us);
    }
  }

  slices(): TelemetrySlice[] {
    const start = this.first ?? new Map<string, number>();
    const end = this.last;
    const out: TelemetrySlice[] = [];
    for (const [series, value] of end) {
      const name = series.replace(/\{.*$/, '');
      const type = this.types.get(familyOf(name, this.types));
      if (type === 'counter') {
        out.push({ metric: series, value: value - (start.get(series) ?? 0), unit: 'increase' });
      } else if ((type === 'histogram' || type === 'summary') && name.endsWith('_sum')) {
        const countSeries = series.replace(/_sum(\{|$)/, '_count$1');
        const dSum = value - (start.get(series) ?? 0);
        const dCount = (end.get(countSeries) ?? 0) - (start.get(countSeries) ?? 0);
        if (dCount > 0)
          out.push({ metric: series.replace(/_sum(\{|$)/, ':mean$1'), value: dSum / dCount, unit: 'mean' });
      }
    }
    const windowed = this.inWindow.size > 0;
    const over = windowed ? 'window' : 'iteration';
    for (const [series, gauge] of windowed ? this.inWindow : this.overall) {
      out.push({ metric: withSuffix(series, ':max'), value: gauge.max, unit: `max_over_${over}` });
      const mean = gauge.span_us > 0 ? gauge.area / gauge.span_us : gauge.sum / gauge.n;
      out.push({ metric: withSuffix(series, ':mean'), value: mean, unit: `mean_over_${over}` });
    }
    return out;
  }
}

interface GaugeTrack {
  max: number;
  sum: number;
  n: number;
  /** Σ trapezoids (value × µs) and the µs they span, for the time-weighted mean. */
  area: number;
  span_us: number;
  prev: { at_us: number; value: number } | null;
}

function track(tracks: Map<string, GaugeTrack>, series: string, value: number, at_us: number | null): void {
  let t = tracks.get(series);
  if (!t) {
    t = { max: value, sum: 0, n: 0, area: 0, span_us: 0, prev: null };
    tracks.set(series, t);
  }
  if (value > t.max) t.max = value;
  t.sum += value;
  t.n++;
  if (at_us === null) return;
  if (t.prev !== null && at_us > t.prev.at_us) {
    t.area += ((t.prev.value + value) / 2) * (at_us - t.prev.at_us);
    t.span_us += at_us - t.prev.at_us;
  }
  t.prev = { at_us, value };
}

/** `name{labels}` → `name<suffix>{labels}`. */
function withSuffix(series: string, suffix: string): string {
  const brace = series.indexOf('{');
  return brace < 0 ? `${series}${suffix}` : `${series.slice(0, brace)}${suffix}${series.slice(brace)}`;
}

/** The slices between a scrape at the start and one at the end of a window (gauges: max and mean of the two). */
export function telemetrySlices(startText: string, endText: string): TelemetrySlice[] {
  const series = new ScrapeSeries(null);
  series.add(startText, null);
  series.add(endText, null);
  return series.slices();
}

/** The slices of an iteration folder's scrapes (see scrape-files.ts); empty when it has none. */
export async function iterationTelemetry(iterationFolder: string): Promise<TelemetrySlice[]> {
  const scrapes = await readIterationScrapes(iterationFolder);
  if (scrapes === null) return [];
  const series = new ScrapeSeries(scrapes.window);
  for (const sample of scrapes.samples) series.add(await sample.text(), sample.at_us);
  return series.slices();
}

/** The `# TYPE` family a sample belongs to (`x_bucket` → `x` for histograms). */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length)))
      return name.slice(0, -suffix.length);
  }
  return name;
}
