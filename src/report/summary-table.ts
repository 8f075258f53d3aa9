/**
 * The terminal summary: one row per iteration with the figures people compare
 * first (throughput, TTFT, TPOT, ITL and E2E tails, errors by class, goodput, SLOs met)
 * and a flag column for figures that should not be trusted as they stand; under
 * it, each SLO with its measured percentile per row and whether it was met. Plain
 * space-aligned text, no dependency; ANSI colour only when asked for.
 */
import type { ErrorCounts, IterationSummary } from '../metrics/iteration-summary.js';
import { MIN_SAMPLES_FOR_P99 } from '../metrics/iteration-flags.js';
import { compare, type SloCheck } from '../metrics/goodput.js';

export interface SummaryTableOptions {
  /** Colour the header, errors and flags with ANSI escapes (callers pass `stream.isTTY`). */
  color?: boolean;
  /** Terminal width: wide tables truncate the scenario, then hide the least important columns. */
  width?: number;
}

interface Column {
  id: string;
  header: string;
  align: 'left' | 'right';
  cell: (s: IterationSummary) => string;
  /** Optional columns are hidden, in this order, when the table is too wide (lower goes first). */
  dropOrder?: number;
  color?: (s: IterationSummary, text: string) => string;
}

const ANSI = { bold: '\x1b[1m', red: '\x1b[31m', yellow: '\x1b[33m', dim: '\x1b[2m', reset: '\x1b[0m' };

const GAP = '  ';
/** The scenario column is never truncated below this. */
const MIN_SCENARIO_WIDTH = 12;

/** The flag for a p99 from too few samples, named after the bound. */
const LOW_SAMPLES_FLAG = `n<${MIN_SAMPLES_FOR_P99}`;

const FLAG_LEGEND: Record<string, string> = {
  [LOW_SAMPLES_FLAG]: `a p99 comes from fewer than ${MIN_SAMPLES_FOR_P99} samples`,
  loop: 'the client event loop lagged enough to skew timestamps',
  drop: 'arrivals were dropped (offered load not fully sent)',
  intr: 'the iteration was interrupted',
  fail: 'the run stopped early: its first measured requests all failed alike',
  empty: 'no measured request',
  'no-ok': 'no measured request completed: there is no throughput to show',
};

/** Error classes named in a cell; the rest are counted as `+N`. */
const MAX_ERROR_CLASSES_SHOWN = 3;

/** A missing figure (no sample, nothing completed): a dash that no number could be mistaken for. */
const NONE = '—';

/** Latencies (ms) and rates (req/s, tokens/s): more decimals for small values, none for large. */
export function formatFigure(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  const abs = Math.abs(value);
  if (abs < 10) return value.toFixed(2);
  if (abs < 100) return value.toFixed(1);
  return value.toFixed(0);
}

function formatPercent(ratio: number | null): string {
  return ratio === null ? NONE : `${(ratio * 100).toFixed(1)}`;
}

/** `12.0 (http_5xx 10, timeout 2)`: the error rate, then the errored requests by class, most first. */
export function errorCell(s: IterationSummary): string {
  const rate = formatPercent(s.error_rate);
  const classes = (Object.entries(s.requests.errors_by_class) as Array<[keyof ErrorCounts, number]>)
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (classes.length === 0) return rate;
  const shown = classes.slice(0, MAX_ERROR_CLASSES_SHOWN).map(([name, count]) => `${name} ${count}`);
  const more = classes.length - shown.length;
  return `${rate} (${shown.join(', ')}${more > 0 ? `, +${more}` : ''})`;
}

function load(s: IterationSummary): string {
  if (s.mode === 'concurrency') return s.concurrency === null ? 'closed' : `c=${s.concurrency}`;
  if (s.mode === 'rate') return s.rate_rps === null ? 'rate' : `${s.rate_rps} rps`;
  return 'trace';
}

/** Short flag names for one iteration (explained by the legend under the table). */
export function iterationFlags(s: IterationSummary): string[] {
  const flags: string[] = [];
  if (s.requests.measured === 0) flags.push('empty');
  else if (s.requests.completed === 0) flags.push('no-ok');
  if (s.flags.low_samples) flags.push(LOW_SAMPLES_FLAG);
  if (s.flags.event_loop_flag) flags.push('loop');
  if (s.flags.dropped_arrivals) flags.push('drop');
  if (s.ended_by === 'interrupted') flags.push('intr');
  if (s.ended_by === 'fail_fast') flags.push('fail');
  return flags;
}

function goodputCell(s: IterationSummary): string {
  if (s.goodput === null) return NONE;
  const attainment = s.goodput.attainment === null ? '' : ` (${(s.goodput.attainment * 100).toFixed(0)}%)`;
  return `${formatFigure(s.goodput_rps)}${attainment}`;
}

/** `2/2`, or `1/2 ✗` when an SLO was missed (`?` when one had nothing to measure). */
function sloCell(s: IterationSummary): string {
  const checks = s.slo_checks ?? [];
  if (checks.length === 0) return '-';
  const met = checks.filter((c) => c.met === true).length;
  const mark = checks.some((c) => c.met === false) ? ' ✗' : checks.some((c) => c.met === null) ? ' ?' : '';
  return `${met}/${checks.length}${mark}`;
}

/** `p99`, or `max` / `min` for an SLO without a percentile (every request must meet it). */
export function percentileLabel(check: Pick<SloCheck, 'at_percentile' | 'percentile'>): string {
  if (check.percentile === null) return check.at_percentile === 0 ? 'min' : 'max';
  return `p${check.percentile}`;
}

/** One line per SLO: met or not in how many rows, and the measured value of each row. */
function sloLines(summaries: readonly IterationSummary[]): Array<{ text: string; missed: boolean }> {
  const texts = [...new Set(summaries.flatMap((s) => (s.slo_checks ?? []).map((c) => c.slo)))];
  return texts.map((text) => {
    const checks = summaries.map((s) => (s.slo_checks ?? []).find((c) => c.slo === text) ?? null);
    const measured = checks.filter((c): c is SloCheck => c !== null);
    const missed = measured.filter((c) => c.met === false).length;
    const label = measured[0] ? percentileLabel(measured[0]) : '';
    const values = checks.map((c) =>
      c === null
        ? '-'
        : `${formatFigure(c.measured)} ${c.met === null ? '?' : c.met ? '✓' : '✗'}${
            // Met by the completed requests' value, missed once the errored ones count.
            c.met === false && c.errored > 0 && compare(c.measured as number, c.op, c.threshold)
              ? ` (+${c.errored} errored)`
              : ''
          }`,
    );
    const verdict =
      missed > 0
        ? `NOT MET in ${missed} of ${checks.length} rows`
        : measured.some((c) => c.met === null)
          ? 'not measured in some rows'
          : `met in ${checks.length === 1 ? 'the row' : `all ${checks.length} rows`}`;
    return {
      text: `SLO ${text}: ${verdict}; measured ${label} per row: ${values.join(', ')}`,
      missed: missed > 0,
    };
  });
}

function columns(withGoodput: boolean): Column[] {
  const cols: Column[] = [
    { id: 'scenario', header: 'scenario', align: 'left', cell: (s) => s.scenario },
    { id: 'load', header: 'load', align: 'left', cell: load },
    {
      id: 'requests',
      header: 'ok/err',
      align: 'right',
      cell: (s) => `${s.requests.completed}/${s.requests.errored}`,
      dropOrder: 7,
    },
    { id: 'req_s', header: 'req/s', align: 'right', cell: (s) => formatFigure(s.request_throughput_rps) },
    {
      id: 'out_tok_s',
      header: 'out tok/s',
      align: 'right',
      cell: (s) => formatFigure(s.output_throughput_tokens_per_s),
    },
    {
      id: 'ttft_p50',
      header: 'TTFT p50',
      align: 'right',
      cell: (s) => formatFigure(s.distributions.ttft_ms.p50),
      dropOrder: 2,
    },
    {
      id: 'ttft_p99',
      header: 'TTFT p99',
      align: 'right',
      cell: (s) => formatFigure(s.distributions.ttft_ms.p99),
    },
    {
      id: 'tpot_p50',
      header: 'TPOT p50',
      align: 'right',
      cell: (s) => formatFigure(s.distributions.tpot_ms.p50),
      dropOrder: 4,
    },
    {
      id: 'itl_p99',
      header: 'ITL p99',
      align: 'right',
      cell: (s) => formatFigure(s.distributions.itl_ms.p99),
      dropOrder: 3,
    },
    {
      id: 'e2e_p99',
      header: 'E2E p99',
      align: 'right',
      cell: (s) => formatFigure(s.distributions.e2e_latency_ms.p99),
      dropOrder: 1,
    },
    {
      id: 'err_pct',
      header: 'err%',
      align: 'right',
      cell: errorCell,
      dropOrder: 6,
      color: (s, text) =>
        s.error_rate !== null && s.error_rate > 0 ? `${ANSI.red}${text}${ANSI.reset}` : text,
    },
  ];
  if (withGoodput) {
    cols.push({ id: 'goodput', header: 'goodput/s', align: 'right', cell: goodputCell, dropOrder: 5 });
    cols.push({
      id: 'slos',
      header: 'SLOs met',
      align: 'right',
      cell: sloCell,
      color: (s, text) =>
        (s.slo_checks ?? []).some((c) => c.met === false) ? `${ANSI.red}${text}${ANSI.reset}` : text,
    });
  }
  cols.push({
    id: 'flags',
    header: 'flags',
    align: 'left',
    cell: (s) => {
      const flags = iterationFlags(s);
      return flags.length === 0 ? '' : `⚠ ${flags.join(',')}`;
    },
    color: (_s, text) => (text.trim() === '' ? text : `${ANSI.yellow}${text}${ANSI.reset}`),
  });
  return cols;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

/**
 * Render iteration summaries as an aligned table, one row per iteration,
 * followed by the units and a legend for any flag shown.
 * Latencies are in ms; req/s and out tok/s are over the measured window.
 */
export function renderSummaryTable(
  summaries: readonly IterationSummary[],
  opts: SummaryTableOptions = {},
): string {
  if (summaries.length === 0) return 'no iterations\n';
  const color = opts.color ?? false;
  let cols = columns(summaries.some((s) => s.goodput !== null));
  const cells = new Map(cols.map((c) => [c.id, summaries.map((s) => c.cell(s))]));
  const widthOf = (c: Column): number =>
    Math.max(c.header.length, ...(cells.get(c.id) as string[]).map((t) => t.length));
  const widths = new Map(cols.map((c) => [c.id, widthOf(c)]));
  const total = (): number =>
    cols.reduce((sum, c) => sum + (widths.get(c.id) as number), 0) + GAP.length * (cols.length - 1);

  const hidden: string[] = [];
  if (opts.width !== undefined && total() > opts.width) {
    const scenarioWidth = widths.get('scenario') as number;
    const shrink = Math.min(
      total() - opts.width,
      scenarioWidth - Math.max(MIN_SCENARIO_WIDTH, 'scenario'.length),
    );
    if (shrink > 0) widths.set('scenario', scenarioWidth - shrink);
    const droppable = cols
      .filter((c) => c.dropOrder !== undefined)
      .sort((a, b) => a.dropOrder! - b.dropOrder!);
    for (const c of droppable) {
      if (total() <= opts.width) break;
      cols = cols.filter((x) => x !== c);
      hidden.push(c.header);
    }
  }

  const lines: string[] = [];
  const render = (texts: string[], styles: Array<((t: string) => string) | undefined>): string =>
    texts
      .map((t, i) => {
        const c = cols[i] as Column;
        const padded = pad(truncate(t, widths.get(c.id) as number), widths.get(c.id) as number, c.align);
        const style = styles[i];
        return color && style ? style(padded) : padded;
      })
      .join(GAP)
      .trimEnd();

  const bold = (t: string): string => `${ANSI.bold}${t}${ANSI.reset}`;
  lines.push(
    render(
      cols.map((c) => c.header),
      cols.map(() => bold),
    ),
  );
  lines.push(cols.map((c) => '-'.repeat(widths.get(c.id) as number)).join(GAP));
  summaries.forEach((s, row) => {
    lines.push(
      render(
        cols.map((c) => (cells.get(c.id) as string[])[row] as string),
        cols.map((c) => (c.color ? (t: string) => c.color!(s, t) : undefined)),
      ),
    );
  });

  const notes: string[] = [
    'latencies in ms (TTFT, TPOT, ITL, E2E); rates over the measured window; err% (errored requests by class)',
  ];
  if (hidden.length > 0) notes.push(`hidden to fit ${opts.width} columns: ${hidden.join(', ')}`);
  const shown = new Set(summaries.flatMap(iterationFlags));
  for (const [flag, text] of Object.entries(FLAG_LEGEND))
    if (shown.has(flag)) notes.push(`⚠ ${flag}: ${text}`);
  const dim = (t: string): string => (color ? `${ANSI.dim}${t}${ANSI.reset}` : t);
  const red = (t: string): string => (color ? `${ANSI.red}${t}${ANSI.reset}` : t);
  for (const slo of sloLines(summaries)) lines.push(slo.missed ? red(slo.text) : slo.text);
  for (const note of notes) lines.push(dim(note));
  return `${lines.join('\n')}\n`;
}
