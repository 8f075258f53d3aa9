/**
 * A parser of the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text, written
 * here because no well-kept npm parser of it exists (the few on the registry are unmaintained
 * or regex-based and break on a `}` or `,` inside a quoted label value). It reads HELP, TYPE
 * and UNIT lines, label values with their escapes (`\\`, `\"`, `\n`), optional timestamps,
 * NaN and ±Inf, `# EOF`, and exemplars after ` # `; it resolves each sample to its family
 * (`x_bucket`, `x_sum`, `x_count`, `x_created`, `x_total` → `x`). It never throws on the
 * text: a line it cannot read is counted, and a scrape with more series than the guard
 * allows (in all, or in one family) keeps the first ones and counts the rest, so a hostile or
 * exploding exporter costs linear time and bounded memory.
 */

/** Series kept per scrape, and per family, before the rest are dropped (and counted). */
export const MAX_SERIES_PER_SCRAPE = 20_000;
export const MAX_SERIES_PER_FAMILY = 2_000;
/** A line longer than this (a label value of megabytes) is not telemetry: counted as bad. */
export const MAX_LINE_CHARS = 64 * 1024;

export type PromType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'summary'
  | 'untyped'
  | 'unknown'
  | 'info'
  | 'stateset'
  | 'gaugehistogram';

export interface PromSample {
  /** The sample's own name (`x_bucket`). */
  name: string;
  /** The family it belongs to (`x`), by the TYPE lines seen; its own name when none matches. */
  family: string;
  /** Label pairs in the order exposed. */
  labels: [string, string][];
  value: number;
  /** As exposed (0.0.4: ms; OpenMetrics: s), null when absent. */
  timestamp: number | null;
  /** `name{k="v",...}` with the labels as exposed (values re-escaped). */
  series: string;
}

export interface PromFamilyInfo {
  type: PromType;
  help: string | null;
  unit: string | null;
}

export interface ParsedScrape {
  samples: PromSample[];
  families: Map<string, PromFamilyInfo>;
  /** Lines that are not a comment, a blank or a readable sample. */
  bad_lines: number;
  /** Samples past the guard (MAX_SERIES_PER_SCRAPE or MAX_SERIES_PER_FAMILY), not kept. */
  dropped_series: number;
  /** Families that lost samples to the per-family guard. */
  dropped_families: string[];
  /** Whether an OpenMetrics `# EOF` ended the text. */
  eof: boolean;
}

export interface ParseLimits {
  maxSeries?: number;
  maxSeriesPerFamily?: number;
}

const TYPES: ReadonlySet<string> = new Set([
  'counter',
  'gauge',
  'histogram',
  'summary',
  'untyped',
  'unknown',
  'info',
  'stateset',
  'gaugehistogram',
]);
const SUFFIXES = ['_bucket', '_sum', '_count', '_created', '_total', '_info', '_gsum', '_gcount'] as const;

/** Parses one scrape's text; never throws. */
export function parsePrometheus(text: string, limits: ParseLimits = {}): ParsedScrape {
  const maxSeries = limits.maxSeries ?? MAX_SERIES_PER_SCRAPE;
  const maxPerFamily = limits.maxSeriesPerFamily ?? MAX_SERIES_PER_FAMILY;
  const out: ParsedScrape = {
    samples: [],
    families: new Map(),
    bad_lines: 0,
    dropped_series: 0,
    dropped_families: [],
    eof: false,
  };
  const perFamily = new Map<string, number>();
  const dropped = new Set<string>();
  // A name's family, looked up once per name (and again after a new family is declared).
  let familyCache = new Map<string, string>();
  const family = (name: string): string => {
    let f = familyCache.get(name);
    if (f === undefined) {
      f = familyOf(name, out.families);
      familyCache.set(name, f);
    }
    return f;
  };
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    let i = at;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    at = end + 1;
    while (i < lineEnd && isBlank(text.charCodeAt(i))) i++;
    if (i >= lineEnd) continue;
    if (lineEnd - i > MAX_LINE_CHARS) {
      out.bad_lines++;
      continue;
    }
    if (text.charCodeAt(i) === 35 /* # */) {
      const line = text.slice(i, lineEnd).trimEnd();
      if (line === '# EOF') {
        out.eof = true;
        break;
      }
      const known = out.families.size;
      readComment(line, out.families);
      if (out.families.size !== known) familyCache = new Map();
      continue;
    }
    // Past the guard every sample line is only counted: a million series cost a scan, not a parse.
    if (out.samples.length >= maxSeries) {
      out.dropped_series++;
      continue;
    }
    // A family already full costs a look at the name, not a parse.
    let j = i;
    while (j < lineEnd && isNameChar(text.charCodeAt(j))) j++;
    if (j > i) {
      const f = family(text.slice(i, j));
      if ((perFamily.get(f) ?? 0) >= maxPerFamily) {
        out.dropped_series++;
        dropped.add(f);
        continue;
      }
    }
    const sample = readSample(text.slice(i, lineEnd), family);
    if (sample === null) {
      out.bad_lines++;
      continue;
    }
    const n = perFamily.get(sample.family) ?? 0;
    if (n >= maxPerFamily) {
      out.dropped_series++;
      dropped.add(sample.family);
      continue;
    }
    perFamily.set(sample.family, n + 1);
    out.samples.push(sample);
  }
  out.dropped_families = [...dropped];
  return out;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** [a-zA-Z0-9_:] */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 58;
}

/** [a-zA-Z_:] */
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}

/** `# HELP name text`, `# TYPE name type`, `# UNIT name unit`; any other comment is ignored. */
function readComment(line: string, families: Map<string, PromFamilyInfo>): void {
  const m = /^#\s+(HELP|TYPE|UNIT)\s+(\S+)(?:\s(.*))?$/.exec(line);
  if (!m) return;
  const name = m[2] as string;
  const rest = m[3] ?? '';
  const info = families.get(name) ?? { type: 'untyped', help: null, unit: null };
  if (m[1] === 'TYPE') {
    const type = rest.trim().toLowerCase();
    if (TYPES.has(type)) info.type = type as PromType;
  } else if (m[1] === 'HELP') info.help = unescapeHelp(rest);
  else info.unit = rest.trim();
  families.set(name, info);
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_all, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** One sample line, or null when it cannot be read. */
function readSample(line: string, familyOfName: (name: string) => string): PromSample | null {
  let i = 0;
  let name = '';
  if (isNameStart(line.charCodeAt(0))) {
    i = 1;
    while (i < line.length && isNameChar(line.charCodeAt(i))) i++;
    name = line.slice(0, i);
  }
  const labels: [string, string][] = [];
  if (line[i] === '{') {
    const read = readLabels(line, i + 1, labels);
    if (read === null) return null;
    i = read.end;
    if (read.name !== null) {
      if (name !== '') return null;
      name = read.name;
    }
  }
  if (name === '') return null;
  // The rest: value, then an optional timestamp, then an optional exemplar after `#`.
  let rest = line.slice(i);
  if (rest !== '' && rest[0] !== ' ' && rest[0] !== '\t') return null;
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return null;
  const value = parseValue(fields[0] as string);
  if (value === null) return null;
  let timestamp: number | null = null;
  if (fields.length === 2) {
    timestamp = Number(fields[1]);
    if (!Number.isFinite(timestamp)) return null;
  }
  return {
    name,
    family: familyOfName(name),
    labels,
    value,
    timestamp,
    series: seriesText(name, labels),
  };
}

/**
 * Reads `k="v",...}` from `from` (just past `{`); the metric name too when it is quoted inside
 * the braces (the UTF-8 names of Prometheus 3). Null on anything malformed (an unterminated
 * quote included): the caller counts the line.
 */
function readLabels(
  line: string,
  from: number,
  labels: [string, string][],
): { end: number; name: string | null } | null {
  let i = from;
  let name: string | null = null;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '}') return { end: i + 1, name };
    let key: string;
    if (line[i] === '"') {
      const quoted = readQuoted(line, i + 1);
      if (quoted === null) return null;
      key = quoted.value;
      i = quoted.end;
    } else {
      const start = i;
      if (!isNameStart(line.charCodeAt(i)) || line[i] === ':') return null;
      while (i < line.length && isNameChar(line.charCodeAt(i)) && line[i] !== ':') i++;
      key = line.slice(start, i);
    }
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '=') {
      i++;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] !== '"') return null;
      const quoted = readQuoted(line, i + 1);
      if (quoted === null) return null;
      labels.push([key, quoted.value]);
      i = quoted.end;
    } else {
      // A bare quoted string is the metric's name (once, and only quoted).
      if (name !== null || line[i - 1] !== '"') return null;
      name = key;
    }
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return null;
  }
}

/** A quoted string from `from` (just past the opening quote) to its closing quote, unescaped. */
function readQuoted(line: string, from: number): { value: string; end: number } | null {
  let value = '';
  let i = from;
  let chunk = i;
  while (i < line.length) {
    const c = line.charCodeAt(i);
    if (c === 34 /* " */) return { value: value + line.slice(chunk, i), end: i + 1 };
    if (c === 92 /* \ */) {
      value += line.slice(chunk, i);
      const next = line[i + 1];
      if (next === undefined) return null;
      value += next === 'n' ? '\n' : next;
      i += 2;
      chunk = i;
      continue;
    }
    i++;
  }
  return null;
}

function parseValue(text: string): number | null {
  switch (text.toLowerCase()) {
    case 'nan':
      return NaN;
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
  }
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

/** The TYPE'd family a sample belongs to: its own name, or its name less a suffix its type has. */
export function familyOf(name: string, families: ReadonlyMap<string, PromFamilyInfo>): string {
  if (families.has(name)) return name;
  for (const suffix of SUFFIXES) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (families.has(base)) return base;
    }
  }
  return name;
}

/** `name{k="v",...}`, values escaped as the text format writes them. */
export function seriesText(name: string, labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return name;
  const pairs = labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}{${pairs.join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** A label's value on a sample, if it has it. */
export function labelOf(sample: Pick<PromSample, 'labels'>, key: string): string | undefined {
  for (const [k, v] of sample.labels) if (k === key) return v;
  return undefined;
}
