/**
 * Seeded mutations of job files, for the tests that prove validation never crashes: each
 * mutation is a named class (type swap, deletion, huge or non-finite number, duplicate key,
 * alias bomb, ...) applied to a valid job's YAML text, with whether the result must be
 * refused. Test support: used by job-mutations.test.ts, never by the CLI.
 */
import { parse, stringify } from 'yaml';
import type { PathSegment } from './field-path.js';
import { Prng } from '../base/prng.js';

export const mutationClasses = [
  'type-swap',
  'delete-field',
  'unknown-field',
  'huge-number',
  'negative-number',
  'non-finite-number',
  'fractional-number',
  'wrong-nesting',
  'unicode',
  'huge-string',
  'duplicate-key',
  'empty-document',
  'multiple-documents',
  'binary-garbage',
  'truncation',
  'storage-uri-near-miss',
  'yaml-tag',
  'alias-bomb',
  'unresolved-alias',
  'deep-nesting',
] as const;

export type MutationClass = (typeof mutationClasses)[number];

export interface Mutation {
  cls: MutationClass;
  /** The example it started from. */
  base: string;
  /** What was done, for a failing test's message. */
  what: string;
  text: string;
  /** True when no correct validator may accept the result. */
  mustFail: boolean;
}

/** A valid job's name and YAML text. */
export interface BaseJob {
  name: string;
  text: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// Kubernetes values OME passes through untouched, and what kubectl adds: any shape is valid there.
const LOOSE = [/^spec\.podOverride\.(resources|env|envFrom|volumeMounts|tolerations|affinity|volumes)\b/];
// Fields whose absence makes the job invalid (indices written `[]`).
const REQUIRED = new Set([
  'apiVersion',
  'kind',
  'metadata',
  'metadata.name',
  'spec',
  'spec.endpoint',
  'spec.task',
  'spec.maxTimePerIteration',
  'spec.maxRequestsPerIteration',
  'spec.endpoint.endpoint',
  'spec.endpoint.endpoint.url',
  'spec.endpoint.endpoint.apiFormat',
  'spec.endpoint.inferenceService',
  'spec.endpoint.inferenceService.name',
  'spec.endpoint.inferenceService.namespace',
  'spec.outputLocation.storageUri',
  'spec.serviceMetadata.engine',
  'spec.serviceMetadata.version',
  'spec.serviceMetadata.gpuType',
  'spec.serviceMetadata.gpuCount',
]);

/**
 * `count` mutations of `bases`, the classes in turn (so each class gets count/classes of
 * them), every choice drawn from one PRNG seeded with `seed`: the same seed, the same texts.
 */
export function mutateJobs(bases: readonly BaseJob[], count: number, seed: number): Mutation[] {
  const prng = new Prng(seed, 0x6a0b);
  const out: Mutation[] = [];
  for (let i = 0; i < count; i++) {
    const cls = mutationClasses[i % mutationClasses.length] as MutationClass;
    const base = bases[prng.intInclusive(0, bases.length - 1)] as BaseJob;
    out.push(mutateOne(base, cls, prng));
  }
  return out;
}

/** One mutation of class `cls` of `base`. */
export function mutateOne(base: BaseJob, cls: MutationClass, prng: Prng): Mutation {
  const pick = <T>(list: readonly T[]): T => list[prng.intInclusive(0, list.length - 1)] as T;
  const job = parse(base.text) as Json;
  const made = (what: string, text: string, mustFail: boolean): Mutation => ({
    cls,
    base: base.name,
    what,
    text,
    mustFail,
  });
  const strict = nodes(job).filter((n) => n.path.length > 0 && !isLoose(n.path));
  switch (cls) {
    case 'type-swap': {
      const node = pick(strict);
      const value = pick(otherTypes(node.value));
      return made(`${show(node.path)} ← ${JSON.stringify(value)}`, dump(setAt(job, node.path, value)), true);
    }
    case 'delete-field': {
      const node = pick(strict.filter((n) => typeof n.path.at(-1) === 'string'));
      const mustFail = REQUIRED.has(pattern(node.path));
      return made(`delete ${show(node.path)}`, dump(setAt(job, node.path, undefined)), mustFail);
    }
    case 'unknown-field': {
      const maps = strict.filter((n) => isMap(n.value) && !isStringMap(n.path));
      const node = pick([{ path: [], value: job }, ...maps]);
      const keys = Object.keys(node.value as object);
      const key =
        keys.length > 0 && prng.nextFloat() < 0.5 ? `${pick(keys)}s` : pick(['extra', 'Spec', 'x-y']);
      // metadata is open (kubectl adds uid, resourceVersion, ...).
      const mustFail = pattern(node.path) !== 'metadata' && !keys.includes(key);
      return made(`add ${show([...node.path, key])}`, dump(setAt(job, [...node.path, key], 1)), mustFail);
    }
    case 'huge-number':
    case 'negative-number':
    case 'non-finite-number':
    case 'fractional-number': {
      const numbers = strict.filter((n) => typeof n.value === 'number');
      const node = pick(numbers.length > 0 ? numbers : strict);
      const literal = pick(NUMBER_LITERALS[cls]);
      return made(`${show(node.path)} ← ${literal}`, withRaw(job, node.path, literal), true);
    }
    case 'wrong-nesting': {
      const node = pick(strict);
      const value: Json =
        isMap(node.value) && prng.nextFloat() < 0.5
          ? (Object.values(node.value)[0] ?? null)
          : pick([[node.value], { value: node.value }]);
      const what = `${show(node.path)} nested ${Array.isArray(value) ? 'in a list' : 'differently'}`;
      return made(what, dump(setAt(job, node.path, value)), true);
    }
    case 'unicode': {
      const strings = strict.filter((n) => typeof n.value === 'string');
      const node = pick(strings);
      const value = pick(UNICODE)(node.value as string);
      return made(`${show(node.path)} ← ${JSON.stringify(value)}`, dump(setAt(job, node.path, value)), false);
    }
    case 'huge-string': {
      const strings = strict.filter((n) => typeof n.value === 'string');
      const node = pick(strings);
      const length = pick([70_000, 300_000, 1_000_000, 2_000_000]);
      const value = pick(['m', 'é', '\u4e2d', 'a/']).repeat(length).slice(0, length);
      return made(`${show(node.path)} ← ${length} characters`, dump(setAt(job, node.path, value)), true);
    }
    case 'duplicate-key': {
      const lines = base.text.split('\n');
      const keyed = lines
        .map((line, i) => [line, i] as const)
        .filter(([line]) => /^\s*[A-Za-z]\w*:/.test(line));
      const [line, at] = pick(keyed);
      lines.splice(at + 1, 0, line.replace(/:.*$/, ': 1'));
      return made(`duplicate "${line.trim()}"`, lines.join('\n'), true);
    }
    case 'empty-document':
      return made(
        'empty',
        pick(['', '\n\n', '---\n', '# only a comment\n', '~\n', '""\n', '[]\n', '{}\n', '...\n']),
        true,
      );
    case 'multiple-documents':
      return made(
        'two documents',
        pick([`${base.text}\n---\n${base.text}`, `---\n${base.text}\n---\n`, `${base.text}\n---\nkind: x\n`]),
        true,
      );
    case 'binary-garbage': {
      const bytes = Buffer.alloc(prng.intInclusive(1, 512));
      for (let i = 0; i < bytes.length; i++) bytes[i] = prng.intInclusive(0, 255);
      const whole = prng.nextFloat() < 0.4;
      if (whole) return made(`${bytes.length} random bytes`, bytes.toString('latin1'), true);
      const at = prng.intInclusive(0, base.text.length);
      const text = base.text.slice(0, at) + bytes.toString('utf8') + base.text.slice(at);
      return made(`${bytes.length} random bytes at offset ${at}`, text, false);
    }
    case 'truncation': {
      const at = prng.intInclusive(0, base.text.length - 1);
      return made(`cut at ${at} of ${base.text.length}`, base.text.slice(0, at), false);
    }
    case 'storage-uri-near-miss': {
      const uri = pick(NEAR_MISSES);
      const next = setAt(job, ['spec', 'outputLocation'], { storageUri: uri });
      return made(`storageUri ← ${uri}`, dump(next), true);
    }
    case 'yaml-tag': {
      const node = pick(strict.filter((n) => typeof n.value !== 'object'));
      const literal = pick([
        '!!binary aGVsbG8=',
        '!!timestamp 2001-12-14',
        '!!set {a, b}',
        '!custom x',
        '!!omap [a: 1]',
      ]);
      return made(`${show(node.path)} ← ${literal}`, withRaw(job, node.path, literal), false);
    }
    case 'alias-bomb':
      return made('billion laughs', aliasBomb(prng.intInclusive(6, 12)), true);
    case 'unresolved-alias': {
      const node = pick(strict.filter((n) => typeof n.value !== 'object'));
      return made(`${show(node.path)} ← *nope`, withRaw(job, node.path, '*nope'), true);
    }
    case 'deep-nesting': {
      const depth = pick([2_000, 20_000, 100_000]);
      if (prng.nextFloat() < 0.5) {
        const node = pick(strict);
        const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        return made(`${show(node.path)} nested ${depth} deep`, withRaw(job, node.path, deep), true);
      }
      // Indentation grows with depth (depth²/2 characters): block nesting stays at 2,000 levels.
      const levels = Math.min(depth, 2_000);
      return made(
        `block mapping nested ${levels} deep`,
        `${base.text}\ndeep:${blockNesting(levels)}\n`,
        true,
      );
    }
  }
}

/** Classic billion laughs: `levels` levels of 9 aliases each (9^levels nodes once expanded). */
export function aliasBomb(levels: number): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** A block mapping nested `depth` levels (one space of indentation per level). */
export function blockNesting(depth: number): string {
  return `\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1`;
}

const NUMBER_LITERALS: Record<
  'huge-number' | 'negative-number' | 'non-finite-number' | 'fractional-number',
  string[]
> = {
  'huge-number': ['1e23', '1e300', '18446744073709551616', '9007199254740993', '1e15', '100000000000'],
  'negative-number': ['-1', '-0.5', '-1e9', '-9007199254740993'],
  'non-finite-number': ['.nan', '.inf', '-.inf', '1e400', '-1e400', '.NaN'],
  'fractional-number': ['2.5', '0.000001', '1.0000000001'],
};

const UNICODE: ((s: string) => string)[] = [
  (s) => `${s}\u200b`,
  (s) => `\u202e${s}`,
  (s) => `${s}😀`,
  (s) => s.replace(/a/g, '\u0430'),
  (s) => `${s}\u0000`,
  (s) => `${s}\ud800`,
  (s) => `${s}\ufeff`,
  (s) => s.normalize('NFD') + '\u0301',
];

const NEAR_MISSES = [
  's3:/bucket/x',
  'S3:/bucket/x',
  's3:bucket/x',
  's3:///bucket/x',
  'S3://Bucket_Name/x',
  's3://ab/x',
  'az:/account/container/x',
  'gs:/bucket/x',
  'GS:bucket',
  'oci:/n/ns/b/bucket/o/x',
  'github:/owner/repo',
  'pvc:/claim/x',
  'file:/tmp/x',
  'file:relative/x',
  'http://example.com/x',
  `s3://${'b'.repeat(64)}/x`,
];

function isLoose(path: readonly PathSegment[]): boolean {
  const text = show(path);
  return text.startsWith('status') || LOOSE.some((re) => re.test(text));
}

/** Maps of free keys (string → string), where a new key is valid: no unknown field there. */
function isStringMap(path: readonly PathSegment[]): boolean {
  return /(additionalRequestParams|parameters|nodeSelector|labels|annotations)$/.test(show(path));
}

function isMap(value: unknown): value is { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

interface Node {
  path: PathSegment[];
  value: Json;
}

function nodes(value: Json, path: PathSegment[] = []): Node[] {
  const out: Node[] = [{ path, value }];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...nodes(v, [...path, i])));
  else if (isMap(value)) for (const [k, v] of Object.entries(value)) out.push(...nodes(v, [...path, k]));
  return out;
}

function otherTypes(value: Json): Json[] {
  const all: Json[] = ['text', 7, true, null, [1, 'x'], { a: 1 }];
  return all.filter((v) => kind(v) !== kind(value));
}

function kind(value: Json): string {
  return value === null ? 'null' : Array.isArray(value) ? 'list' : typeof value;
}

/** A copy of `root` with the value at `path` replaced (or removed when `value` is undefined). */
function setAt(root: Json, path: readonly PathSegment[], value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(root);
  let cur: Json = copy;
  for (const seg of path.slice(0, -1)) {
    const next = (cur as Record<PathSegment, Json>)[seg];
    if (next === null || typeof next !== 'object') {
      (cur as Record<PathSegment, Json>)[seg] = {};
    }
    cur = (cur as Record<PathSegment, Json>)[seg] as Json;
  }
  const last = path.at(-1) as PathSegment;
  if (value === undefined) {
    if (Array.isArray(cur) && typeof last === 'number') cur.splice(last, 1);
    else delete (cur as Record<PathSegment, Json>)[last];
  } else {
    (cur as Record<PathSegment, Json>)[last] = value;
  }
  return copy;
}

/** The job with raw YAML `literal` at `path` (a placeholder string swapped for the literal). */
function withRaw(root: Json, path: readonly PathSegment[], literal: string): string {
  const marker = 'RAW_LITERAL_MARKER';
  const text = dump(setAt(root, path, marker));
  return text.replace(marker, () => literal);
}

function dump(value: Json): string {
  return stringify(value, { lineWidth: 0 });
}

function show(path: readonly PathSegment[]): string {
  return path
    .map((seg) => (typeof seg === 'number' ? `[${seg}]` : seg))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** The path with list indices written `[]`, as REQUIRED lists them. */
function pattern(path: readonly PathSegment[]): string {
  return show(path).replace(/\[\d+\]/g, '[]');
}
