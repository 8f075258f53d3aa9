/**
 * A target's scrapes (Prometheus text) turned into iteration-level telemetry slices: what
 * the target did over an iteration. Counters give their increase, gauges their max and mean
 * under load (scraped on an interval: a gauge read after the load drained says nothing),
 * histograms and summaries their mean (Δsum / Δcount). Label sets stay in the metric name;
 * the parser's cardinality guard (telemetry/prom-parse.ts) bounds how many there are.
 * The windowed rows, scoped to a GPU, node, pod or server, are telemetry-rows.ts's.
 */
import { parsePrometheus, type ParsedScrape, type PromType } from '../telemetry/prom-parse.js';
import { readIterationScrapes } from '../telemetry/scrape-files.js';

export interface TelemetrySlice {
  /** `vllm:num_preemptions_total{model_name="m"}`, `<gauge>:max{…}` / `<gauge>:mean{…}`, or `<histogram>:mean{…}`. */
  metric: string;
  value: number;
  unit: string | null;
}

/** A slice with the sample it came from: its name as exposed (`x_total`, `g`, `h_sum`) and its series. */
export interface NamedSlice extends TelemetrySlice {
  name: string;
  series: string;
}
interface Parsed {
  types: Map<string, string>;
  samples: Map<string, number>;
}

/** A scrape as TYPE by family and value by series (`name{labels}`); see prom-parse.ts for the whole of it. */
export function parsePrometheusText(text: string): Parsed {
  const parsed = parsePrometheus(text);
  const types = new Map<string, string>();
  for (const [name, info] of parsed.families) types.set(name, info.type);
  const samples = new Map<string, number>();
  for (const sample of parsed.samples)
    if (Number.isFinite(sample.value)) samples.set(sample.series, sample.value);
  return { types, samples };
}

interface Point {
  name: string;
  type: PromType | undefined;
  value: number;
}

/**
 * The slices of a series of scrapes taken over one iteration, fed in the order
 * taken (one at a time, so an iteration's scrapes are never all in memory).
 * Counters: the sum of their increases from scrape to scrape (a value going down is a
 * reset, after which the new value is the increase, as Prometheus' rate() counts it).
 * Histograms: last scrape against the first. Gauges: their max and
 * time-weighted mean (trapezoids between samples) over the scrapes taken inside
 * the measured window; an iteration too short for any scrape inside its window
 * (or with no window known) falls back to every scrape it has, and says so in the unit.
 */
export class ScrapeSeries {
  private first: Map<string, Point> | null = null;
  private last = new Map<string, Point>();
  private readonly inWindow = new Map<string, GaugeTrack>();
  private readonly overall = new Map<string, GaugeTrack>();
  /** Each counter's last value and its increase so far. */
  private readonly counters = new Map<string, { prev: number; increase: number }>();

  constructor(private readonly window: { start_us: number; end_us: number } | null) {}

  /** One scrape's text, taken at `at_us` on the records' clock (null when unknown). */
  add(text: string, at_us: number | null): void {
    this.addParsed(parsePrometheus(text), at_us);
  }

  /** One scrape already parsed. */
  addParsed(parsed: ParsedScrape, at_us: number | null): void {
    const points = new Map<string, Point>();
    for (const sample of parsed.samples) {
      if (!Number.isFinite(sample.value)) continue;
      points.set(sample.series, {
        name: sample.name,
        type: parsed.families.get(sample.family)?.type,
        value: sample.value,
      });
    }
    const firstScrape = this.first === null;
    this.first ??= points;
    this.last = points;
    for (const [series, point] of points) {
      if (point.type !== 'counter') continue;
      const counter = this.counters.get(series);
      // A counter first seen after the first scrape started from 0.
      if (!counter) this.counters.set(series, { prev: point.value, increase: firstScrape ? 0 : point.value });
      else {
        counter.increase += point.value >= counter.prev ? point.value - counter.prev : point.value;
        counter.prev = point.value;
      }
    }
    // Without a window (no measured request, or a folder from before the index) every scrape counts.
    const inside =
      this.window !== null && at_us !== null && at_us >= this.window.start_us && at_us <= this.window.end_us;
    for (const [series, point] of points) {
      if (
        point.type !== 'gauge' &&
        point.type !== 'untyped' &&
        point.type !== 'unknown' &&
        point.type !== undefined
      )
        continue;
      track(this.overall, series, point, at_us);
      if (inside) track(this.inWindow, series, point, at_us);
    }
  }

  slices(): TelemetrySlice[] {
    return this.namedSlices().map(({ metric, value, unit }) => ({ metric, value, unit }));
  }

  /** The slices, each with the sample it came from. */
  namedSlices(): NamedSlice[] {
    const start = this.first ?? new Map<string, Point>();
    const end = this.last;
    const out: NamedSlice[] = [];
    for (const [series, point] of end) {
      const { name, type, value } = point;
      if (type === 'counter') {
        out.push({
          metric: series,
          value: this.counters.get(series)?.increase ?? value - (start.get(series)?.value ?? 0),
          unit: 'increase',
          name,
          series,
        });
      } else if ((type === 'histogram' || type === 'summary') && name.endsWith('_sum')) {
        const countSeries = series.replace(/_sum(\{|$)/, '_count$1');
        const dSum = value - (start.get(series)?.value ?? 0);
        const dCount = (end.get(countSeries)?.value ?? 0) - (start.get(countSeries)?.value ?? 0);
        if (dCount > 0)
          out.push({
            metric: series.replace(/_sum(\{|$)/, ':mean$1'),
            value: dSum / dCount,
            unit: 'mean',
            name,
            series,
          });
      }
    }
    const windowed = this.inWindow.size > 0;
    const over = windowed ? 'window' : 'iteration';
    for (const [series, gauge] of windowed ? this.inWindow : this.overall) {
      const name = gauge.name;
      out.push({
        metric: withSuffix(series, ':max'),
        value: gauge.max,
        unit: `max_over_${over}`,
        name,
        series,
      });
      const mean = gauge.span_us > 0 ? gauge.area / gauge.span_us : gauge.sum / gauge.n;
      out.push({ metric: withSuffix(series, ':mean'), value: mean, unit: `mean_over_${over}`, name, series });
    }
    return out;
  }
}

interface GaugeTrack {
  name: string;
  max: number;
  sum: number;
  n: number;
  /** Σ trapezoids (value × µs) and the µs they span, for the time-weighted mean. */
  area: number;
  span_us: number;
  prev: { at_us: number; value: number } | null;
}

function track(tracks: Map<string, GaugeTrack>, series: string, point: Point, at_us: number | null): void {
  const { value } = point;
  let t = tracks.get(series);
  if (!t) {
    t = { name: point.name, max: value, sum: 0, n: 0, area: 0, span_us: 0, prev: null };
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

/**
 * The slices of an iteration folder's server scrapes (the target `server`, or the legacy
 * `metrics/` layout; see scrape-files.ts); empty when it has none. A scrape that cannot be
 * read back (unreadable, or decompressing past the bound) is left out.
 */
export async function iterationTelemetry(iterationFolder: string): Promise<TelemetrySlice[]> {
  const scrapes = await readIterationScrapes(iterationFolder);
  if (scrapes === null) return [];
  const series = new ScrapeSeries(scrapes.window);
  for (const sample of scrapes.samples) {
    const text = await sample.text().catch(() => null);
    if (text !== null) series.add(text, sample.at_us);
  }
  return series.slices();
}
