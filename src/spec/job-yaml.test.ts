// YAML a job file must not get away with (alias bombs, unresolved aliases, deep nesting,
// keys that are not strings, huge files), and the bounds on what a valid-looking job holds:
// each refused as a ValidationError (exit 2) naming the file and a reason, fast.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatIssue, ValidationError } from '../base/errors.js';
import { aliasBomb, blockNesting } from './job-mutations.js';
import { MAX_JOB_DEPTH, MAX_JOB_FILE_BYTES } from './job-limits.js';
import { deepestLine, parseJobYaml } from './job-yaml.js';
import { loadJobFile, parseJobText } from './load-job.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const demo = readFileSync(join(EXAMPLES, 'demo.yaml'), 'utf8');
/** 1-based line of the first line of demo.yaml holding `text`, so the file can change above it. */
const lineOf = (text: string): number => demo.split('\n').findIndex((line) => line.includes(text)) + 1;

/** The issue lines of the ValidationError `fn` throws, and how long it took. */
function refusal(fn: () => unknown): { lines: string[]; ms: number } {
  const started = performance.now();
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    return { lines: error.issues.map(formatIssue), ms: performance.now() - started };
  }
  assert.fail('expected a ValidationError');
}

describe('YAML hazards', () => {
  test('a billion-laughs alias bomb is refused at once, naming the file', () => {
    const { lines, ms } = refusal(() => parseJobText(aliasBomb(9), 'bomb.yaml'));
    assert.match(lines.join('\n'), /^bomb\.yaml: YAML aliases expand too far \(more than 100 copies\)/);
    assert.ok(ms < 2_000, `${Math.round(ms)} ms`);
  });

  test('an unresolved alias is refused with its line and column', () => {
    const { lines } = refusal(() => parseJobText(demo.replace('seed: 42', 'seed: *nope'), 'job.yaml'));
    assert.deepEqual(lines, [
      `job.yaml: line ${lineOf('seed: 42')}, column 9: unresolved YAML alias *nope: no anchor &nope before it`,
    ]);
  });

  test('aliases of anchors set earlier still work', () => {
    const text = demo.replace('maxRequestsPerIteration: 32', 'maxRequestsPerIteration: &n 32\n  repeats: *n');
    assert.equal(parseJobText(text, 'job.yaml').spec.repeats, 32);
  });

  test('20,000 levels of nesting are refused before the parser recurses, flow or block', () => {
    const deep = [
      `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
      `${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}`,
      `${'- '.repeat(20_000)}x`,
      `spec:${blockNesting(2_000)}`,
    ];
    for (const text of deep) {
      const { lines, ms } = refusal(() => parseJobText(text, 'deep.yaml'));
      assert.match(lines[0] ?? '', /^deep\.yaml: line \d+: nested more than 64 levels deep/);
      assert.ok(ms < 2_000, `${Math.round(ms)} ms`);
    }
  });

  test('the depth scan passes real jobs and does not count block scalars, quotes or comments', () => {
    for (const name of ['demo', 'seed-s3', 'seed-oci-llama']) {
      assert.equal(deepestLine(readFileSync(join(EXAMPLES, `${name}.yaml`), 'utf8'), 16), null, name);
    }
    const scalar = `note: |\n${Array.from({ length: 100 }, (_, i) => `${' '.repeat(i + 2)}line`).join('\n')}\nnext: 1\n`;
    assert.equal(deepestLine(scalar, 8), null);
    assert.equal(deepestLine(`a: "[[[[[[[[[["\nb: '{{{{{{{{{{'\nc: x # [[[[[[[[[[\n`, 8), null);
    assert.equal(
      deepestLine(`a: ${'['.repeat(MAX_JOB_DEPTH)}${']'.repeat(MAX_JOB_DEPTH)}`, MAX_JOB_DEPTH),
      1,
    );
  });

  test('keys that are not strings, and __proto__, are refused with their line (no warning on stderr)', () => {
    const collectionKey = refusal(() =>
      parseJobText(demo.replace('seed: 42', '? [a, b]\n  : 1'), 'job.yaml'),
    );
    assert.deepEqual(collectionKey.lines, [
      `job.yaml: line ${lineOf('seed: 42')}, column 5: a mapping key must be a plain string, not a list, mapping or alias`,
    ]);
    const proto = refusal(() =>
      parseJobText(demo.replace("temperature: '0.0'", "__proto__: 'x'"), 'job.yaml'),
    );
    assert.deepEqual(proto.lines, [
      `job.yaml: line ${lineOf("temperature: '0.0'")}, column 5: "__proto__" is not allowed as a key`,
    ]);
  });

  test('empty files, several documents and non-mappings are refused', () => {
    for (const text of ['', '\n', '---\n', '# nothing\n']) {
      assert.deepEqual(refusal(() => parseJobText(text, 'e.yaml')).lines, [
        'e.yaml: the file is empty: expected a BenchmarkJob',
      ]);
    }
    assert.match(
      refusal(() => parseJobText(`${demo}---\n${demo}`, 'm.yaml')).lines[0] ?? '',
      /found 2 YAML documents/,
    );
    assert.match(
      refusal(() => parseJobText('[1, 2]', 'l.yaml')).lines[0] ?? '',
      /expected a BenchmarkJob mapping/,
    );
    // A binary file's one long string is quoted by its start only.
    const garbage = refusal(() => parseJobText('\u0001'.repeat(100_000), 'g.yaml'));
    assert.ok((garbage.lines[0]?.length ?? 0) < 400, garbage.lines[0]);
  });

  test('a file past the size bound is refused unread; a folder is refused as one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'infermark-job-yaml-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const big = join(dir, 'big.yaml');
    await writeFile(big, `# ${'x'.repeat(MAX_JOB_FILE_BYTES)}\n`);
    await assert.rejects(loadJobFile(big), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(formatIssue(error.issues[0]!), /big\.yaml: the file is larger than 16777216 bytes/);
      return true;
    });
    await assert.rejects(loadJobFile(dir), /cannot read the job file: it is a folder/);
    assert.throws(() => parseJobYaml('x'.repeat(MAX_JOB_FILE_BYTES + 1), 't.yaml'), /16777217 bytes/);
  });
});

describe('bounds on what a job holds', () => {
  test('a 10 MB model name is refused with its length and the bound, quoted by its start only', () => {
    const text = demo.replace('modelName: infermark-sim', `modelName: ${'m'.repeat(10 * 1024 * 1024)}`);
    const { lines, ms } = refusal(() => parseJobText(text, 'job.yaml'));
    assert.deepEqual(lines, [
      `job.yaml: spec.endpoint.endpoint.modelName: "${'m'.repeat(60)}… (10485760 characters)": is 10485760 characters long: at most 256 allowed`,
    ]);
    assert.ok(ms < 10_000, `${Math.round(ms)} ms`);
  });

  test('every free string has a bound: URL, scenario, SLO, paths, names, map keys and values, labels', () => {
    const long = (n: number): string => 'a'.repeat(n);
    const cases: [string, string, RegExp][] = [
      [
        "url: 'http://127.0.0.1:8000/v1/chat/completions'",
        `url: 'http://${long(3000)}'`,
        /url: .*is 3007 characters long: at most 2048 allowed/,
      ],
      ["- 'D(100,100)'", `- 'D(${long(300)})'`, /trafficScenarios\[0\]: .*at most 256 allowed/],
      ["- 'p99_ttft_ms<=200'", `- 'p99_ttft_ms<=${long(300)}'`, /slos\[0\]: .*at most 256 allowed/],
      [
        "temperature: '0.0'",
        `temperature: '${long(20_000)}'`,
        /additionalRequestParams\.temperature: .*at most 16384 allowed/,
      ],
      ["temperature: '0.0'", `${long(400)}: '1'`, /the key is 400 characters long: at most 317 allowed/],
      ['version: simulated', `version: ${long(300)}`, /serviceMetadata\.version: .*at most 256 allowed/],
      ['seed: 42', `tokenizer: ${long(5000)}.json`, /tokenizer: .*at most 4096 allowed/],
      ['seed: 42', `datasetFile: ${long(5000)}`, /datasetFile: .*at most 4096 allowed/],
      [
        'namespace: default',
        `namespace: default\n  labels: {team: ${long(64)}}`,
        /labels\.team: .*at most 63 allowed/,
      ],
      [
        'numConcurrency: [1, 4, 16]',
        `numConcurrency: [${Array.from({ length: 300 }, (_, i) => i + 1).join(', ')}]`,
        /numConcurrency: has 300 entries: at most 256 allowed/,
      ],
    ];
    for (const [from, to, message] of cases) {
      assert.ok(demo.includes(from), from);
      const { lines } = refusal(() => parseJobText(demo.replace(from, to), 'job.yaml'));
      assert.match(lines.join('\n'), message, to.slice(0, 60));
      assert.ok(
        lines.every((line) => line.length < 1_000),
        lines.join('\n').slice(0, 300),
      );
    }
  });

  test('names and URLs with control or invisible characters name nothing: refused', () => {
    for (const name of ['"llama\\u0000"', '"llama\\n3"', '"lla\\u200bma"']) {
      const { lines } = refusal(() =>
        parseJobText(demo.replace('modelName: infermark-sim', `modelName: ${name}`), 'job.yaml'),
      );
      assert.match(lines.join('\n'), /modelName: .*must not contain control, invisible or broken characters/);
    }
  });

  test('numbers: NaN, ±Infinity and 1e400 are named, huge and negative values meet their bounds', () => {
    const cases: [string, RegExp][] = [
      ['seed: .nan', /spec\.seed: expected a finite number, got NaN/],
      ['seed: 1e400', /spec\.seed: expected a finite number, got Infinity/],
      ['seed: -.inf', /spec\.seed: expected a finite number, got -Infinity/],
      ['seed: 4294967296', /spec\.seed: 4294967296: must be ≤ 4294967295/],
      ['seed: 1e23', /spec\.seed: 1e\+23: /],
      ['repeats: 1001', /spec\.repeats: 1001: must be ≤ 1000/],
      ['requestRates: [1000000]', /spec\.requestRates\[0\]: 1000000: must be ≤ 100000/],
      ['costPerHourUsd: 1e300', /spec\.costPerHourUsd: 1e\+300: must be ≤ 1000000/],
      ['seed: -1', /spec\.seed: -1: must be ≥ 0/],
    ];
    for (const [line, message] of cases) {
      const { lines } = refusal(() => parseJobText(demo.replace('seed: 42', line), 'job.yaml'));
      assert.match(lines.join('\n'), message, line);
    }
    const huge = refusal(() =>
      parseJobText(
        demo.replace('numConcurrency: [1, 4, 16]', 'numConcurrency: [1, 4, 100000000000]'),
        'job.yaml',
      ),
    );
    assert.match(huge.lines.join('\n'), /numConcurrency\[2\]: 100000000000: must be ≤ 65536/);
    const requests = refusal(() =>
      parseJobText(demo.replace('maxRequestsPerIteration: 32', 'maxRequestsPerIteration: 1e9'), 'job.yaml'),
    );
    assert.match(requests.lines.join('\n'), /maxRequestsPerIteration: 1000000000: must be ≤ 10000000/);
  });

  test('YAML tags that make objects are named as what they are', () => {
    const { lines } = refusal(() =>
      parseJobText(demo.replace('version: simulated', 'version: !!binary aGVsbG8='), 'job.yaml'),
    );
    assert.match(lines.join('\n'), /serviceMetadata\.version: expected a string, got binary data/);
  });
});
