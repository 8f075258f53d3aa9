// The Prometheus / OpenMetrics text parser: prom-client's own output (both formats) reads
// back to the values prom-client holds, every part of the grammar that exporters use
// reads, and hostile text (huge label values, a million series, unterminated quotes)
// stays bounded in memory and time, its excess counted, never thrown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import {
  labelOf,
  MAX_LINE_CHARS,
  MAX_SERIES_PER_FAMILY,
  MAX_SERIES_PER_SCRAPE,
  parsePrometheus,
  type PromSample,
} from './prom-parse.js';

/** A registry with every metric type, label values holding quotes, backslashes, newlines, `}` and `,`. */
async function filledRegistry(openMetrics: boolean): Promise<Registry> {
  // The registry's type parameter is its content type; one registry of either kind here.
  const registry = new Registry() as Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>;
  if (openMetrics) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const labels = ['model', 'path'] as const;
  const counter = new Counter({
    name: 'req_total',
    help: 'requests\nserved \\ all',
    labelNames: labels,
    registers: [registry],
  });
  const gauge = new Gauge({ name: 'running', help: 'running', labelNames: labels, registers: [registry] });
  const histogram = new Histogram({
    name: 'latency_seconds',
    help: 'latency',
    labelNames: labels,
    buckets: [0.1, 1, 10],
    registers: [registry],
    enableExemplars: openMetrics,
  });
  const summary = new Summary({
    name: 'size_bytes',
    help: 'size',
    percentiles: [0.5, 0.9],
    registers: [registry],
  });
  const hostile = { model: 'a"b\\c\nd', path: '/v1/{x},y}' };
  counter.inc(hostile, 7);
  counter.inc({ model: 'plain', path: '/' }, 2);
  gauge.set(hostile, -3.5);
  gauge.set({ model: 'nan', path: '/' }, NaN);
  for (const v of [0.05, 0.5, 5, 50]) {
    if (openMetrics)
      histogram.observe({ labels: hostile, value: v, exemplarLabels: { model: 'trace', path: 'abc' } });
    else histogram.observe(hostile, v);
  }
  for (const v of [1, 2, 3, 4]) summary.observe(v);
  return registry as unknown as Registry;
}

/** The sample of `name` (or, for an OpenMetrics counter, `name_total`) with these labels. */
function find(samples: PromSample[], name: string, labels: Record<string, string>): PromSample | undefined {
  return samples.find(
    (s) =>
      (s.name === name || s.name === `${name}_total`) &&
      Object.entries(labels).every(([k, v]) => labelOf(s, k) === v),
  );
}

for (const openMetrics of [false, true]) {
  test(`prom-client's ${openMetrics ? 'OpenMetrics' : 'text 0.0.4'} output reads back to its own values`, async () => {
    const registry = await filledRegistry(openMetrics);
    const text = await registry.metrics();
    const parsed = parsePrometheus(text);
    assert.equal(parsed.bad_lines, 0, text);
    assert.equal(parsed.dropped_series, 0);
    assert.equal(parsed.eof, openMetrics);
    let compared = 0;
    for (const metric of await registry.getMetricsAsJSON()) {
      for (const value of metric.values) {
        const name = (value as { metricName?: string }).metricName ?? metric.name;
        const labels = Object.fromEntries(Object.entries(value.labels).map(([k, v]) => [k, String(v)]));
        const sample = find(parsed.samples, name, labels);
        assert.ok(sample, `${name} ${JSON.stringify(labels)} in:\n${text}`);
        if (Number.isNaN(value.value)) assert.ok(Number.isNaN(sample.value));
        else assert.equal(sample.value, value.value, `${name} ${JSON.stringify(labels)}`);
        compared++;
      }
    }
    assert.ok(compared >= 14, `compared ${compared} samples`);
    // Every sample resolves to its family, whose TYPE and HELP were read.
    const bucket = parsed.samples.find((s) => s.name === 'latency_seconds_bucket');
    assert.equal(bucket?.family, 'latency_seconds');
    assert.equal(parsed.families.get('latency_seconds')?.type, 'histogram');
    assert.equal(parsed.families.get('size_bytes')?.type, 'summary');
    const counterFamily = parsed.samples.find((s) => s.name === 'req_total')?.family;
    assert.equal(parsed.families.get(counterFamily ?? '')?.type, 'counter');
    assert.equal(parsed.families.get(counterFamily ?? '')?.help, 'requests\nserved \\ all');
    const hostile = find(parsed.samples, 'req_total', { path: '/v1/{x},y}' });
    assert.equal(labelOf(hostile!, 'model'), 'a"b\\c\nd');
    // The series text, escapes and all, parses back to itself.
    assert.equal(parsePrometheus(`${hostile!.series} 1\n`).samples[0]?.series, hostile!.series);
  });
}

test('the grammar exporters use: timestamps, NaN and ±Inf, UNIT, exemplars, EOF, quoted names, bad lines counted', () => {
  const text = [
    '# HELP x_seconds what x is',
    '# TYPE x_seconds gauge',
    '# UNIT x_seconds seconds',
    'x_seconds{a="1"} 1.5 1700000000000',
    'x_seconds{a="2"}\t+Inf',
    'x_seconds{a="3"} -Inf',
    'x_seconds{a="4"} NaN',
    'x_seconds{a="5",} 2e3',
    'y_total{ a = "sp" } 4 # {trace_id="t"} 1 1700000000.1',
    '{"dotted.name", a="b"} 9',
    'no_value{a="1"}',
    'bad{a="unterminated} 1',
    'bad{a=unquoted} 1',
    '1leading_digit 2',
    'z 1 2 3',
    '# EOF',
    'after_eof 1',
  ].join('\n');
  const parsed = parsePrometheus(text);
  const value = (a: string): number | undefined => parsed.samples.find((s) => labelOf(s, 'a') === a)?.value;
  assert.equal(value('1'), 1.5);
  assert.equal(parsed.samples[0]?.timestamp, 1_700_000_000_000);
  assert.equal(value('2'), Infinity);
  assert.equal(value('3'), -Infinity);
  assert.ok(Number.isNaN(value('4')));
  assert.equal(value('5'), 2000);
  assert.equal(value('sp'), 4, 'spaces around = and the exemplar after #');
  assert.equal(parsed.samples.find((s) => s.name === 'dotted.name')?.value, 9);
  assert.equal(parsed.families.get('x_seconds')?.unit, 'seconds');
  assert.equal(parsed.families.get('x_seconds')?.help, 'what x is');
  assert.equal(
    parsed.bad_lines,
    5,
    'no value, unterminated quote, unquoted value, leading digit, three fields',
  );
  assert.equal(parsed.eof, true);
  assert.ok(!parsed.samples.some((s) => s.name === 'after_eof'), 'nothing after # EOF');
  // CRLF line ends read too.
  assert.equal(parsePrometheus('a 1\r\nb 2\r\n').samples.length, 2);
});

test('hostile text stays bounded: a huge label value, an unterminated quote, a million series', (t) => {
  const huge = `big{v="${'x'.repeat(4 * MAX_LINE_CHARS)}"} 1\nok 1\n`;
  const a = parsePrometheus(huge);
  assert.deepEqual(
    a.samples.map((s) => s.name),
    ['ok'],
  );
  assert.equal(a.bad_lines, 1);

  const open = `q{a="${'\\"'.repeat(20_000)} 1\nok 2\n`;
  const b = parsePrometheus(open);
  assert.equal(b.bad_lines, 1);
  assert.equal(b.samples[0]?.value, 2);

  // A million series: 900 000 of one family, then 100 000 in as many families.
  const lines: string[] = ['# TYPE one gauge'];
  for (let i = 0; i < 900_000; i++) lines.push(`one{i="${i}"} ${i}`);
  for (let i = 0; i < 100_000; i++) lines.push(`f${i} 1`);
  const text = lines.join('\n');
  const started = performance.now();
  const c = parsePrometheus(text);
  const ms = performance.now() - started;
  assert.equal(c.samples.length, MAX_SERIES_PER_SCRAPE);
  assert.equal(c.samples.filter((s) => s.family === 'one').length, MAX_SERIES_PER_FAMILY);
  assert.equal(c.dropped_series, 1_000_000 - MAX_SERIES_PER_SCRAPE);
  assert.deepEqual(c.dropped_families, ['one']);
  // ~17 MB in ~0.3 s on an idle core: linear; the bound leaves room for a loaded 2-core host.
  t.diagnostic(`1e6 series (${(text.length / 1e6).toFixed(1)} MB) parsed in ${ms.toFixed(0)} ms`);
  assert.ok(ms < 15_000, `parsed 1e6 lines in ${ms.toFixed(0)} ms`);
});

test('custom limits: series per scrape and per family', () => {
  const text = ['a{i="1"} 1', 'a{i="2"} 1', 'a{i="3"} 1', 'b 1', 'c 1'].join('\n');
  const parsed = parsePrometheus(text, { maxSeries: 3, maxSeriesPerFamily: 2 });
  assert.deepEqual(
    parsed.samples.map((s) => s.series),
    ['a{i="1"}', 'a{i="2"}', 'b'],
  );
  assert.equal(parsed.dropped_series, 2);
});
