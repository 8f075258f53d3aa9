// Validation never crashes: 200 seeded mutations of the example jobs, one test per mutation
// class, each through the checks `infermark validate` makes (checkJobText): every one is
// valid (exit 0) or a ValidationError naming the file (exit 2), never anything else (exit 1).
// Then the CLI itself on a few of them: exit 2, the file and a reason, no stack trace.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cli } from '../cli/testing/harness.js';
import { checkJobText } from '../cli/validate.js';
import { ExitCode, ValidationError } from '../base/errors.js';
import { aliasBomb, mutateJobs, mutationClasses, type BaseJob, type Mutation } from './job-mutations.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const BASES: BaseJob[] = ['demo', 'seed-s3', 'seed-oci-llama'].map((name) => ({
  name,
  text: readFileSync(join(EXAMPLES, `${name}.yaml`), 'utf8'),
}));
const SEED = 14;
const COUNT = 200;
const MUTATIONS = mutateJobs(BASES, COUNT, SEED);
// Generous for a loaded 2-core host: the slowest mutation (a 2 MB string) takes about 1 s alone.
const MAX_MS_PER_MUTATION = 10_000;

interface Outcome {
  exit: number;
  message: string;
  ms: number;
}

/** What `infermark validate` would do with the mutation, as an exit code; a bug rethrows. */
function check(mutation: Mutation): Outcome {
  const started = performance.now();
  try {
    checkJobText(mutation.text, 'job.yaml');
    return { exit: ExitCode.ok, message: '', ms: performance.now() - started };
  } catch (error) {
    const ms = performance.now() - started;
    if (error instanceof ValidationError) return { exit: error.exitCode, message: error.message, ms };
    const what = `${mutation.cls} of ${mutation.base}: ${mutation.what}`;
    assert.fail(`${what}: ${String((error as Error)?.stack ?? error)}`);
  }
}

const outcomes = new Map<Mutation, Outcome>();

describe(`${COUNT} seeded mutations of the example jobs (seed ${SEED})`, () => {
  for (const cls of mutationClasses) {
    test(`class ${cls}: exit 0 or 2 with the file and a reason, never 1`, () => {
      const mine = MUTATIONS.filter((m) => m.cls === cls);
      assert.ok(mine.length >= 5, `${cls}: ${mine.length} mutations`);
      for (const mutation of mine) {
        const outcome = check(mutation);
        outcomes.set(mutation, outcome);
        const what = `${mutation.base}: ${mutation.what}`;
        assert.ok(outcome.ms < MAX_MS_PER_MUTATION, `${what}: ${Math.round(outcome.ms)} ms`);
        if (mutation.mustFail) assert.equal(outcome.exit, ExitCode.badInput, `${what} was accepted`);
        if (outcome.exit === ExitCode.badInput) {
          const lines = outcome.message.split('\n').slice(1);
          assert.ok(lines.length > 0, what);
          for (const line of lines) assert.match(line, /^ {2}job\.yaml: .+/, `${what}: ${line}`);
          // Megabytes of input are quoted by their start and length, never whole.
          assert.ok(outcome.message.length < 4_000, `${what}: a ${outcome.message.length}-character message`);
        }
      }
    });
  }

  test('over all of them: no exit 1, and every mutation that must fail did', () => {
    const counts: Record<number, number> = { 0: 0, 1: 0, 2: 0 };
    for (const mutation of MUTATIONS) {
      const outcome = outcomes.get(mutation) ?? check(mutation);
      counts[outcome.exit] = (counts[outcome.exit] ?? 0) + 1;
    }
    const wronglyAccepted = MUTATIONS.filter((m) => m.mustFail && outcomes.get(m)?.exit === ExitCode.ok);
    console.log(`exit codes over ${COUNT} mutations: ${JSON.stringify(counts)}`);
    assert.equal(counts[1], 0);
    assert.equal(counts[0]! + counts[2]!, COUNT);
    assert.deepEqual(wronglyAccepted, []);
  });

  test('the same seed gives the same mutations', () => {
    const again = mutateJobs(BASES, COUNT, SEED);
    assert.deepEqual(
      again.map((m) => m.text),
      MUTATIONS.map((m) => m.text),
    );
  });
});

describe('infermark validate on hostile files: exit 2, the file and a reason, no stack trace', () => {
  let dir = '';
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  const demo = BASES[0]!.text;
  const files: [name: string, text: string, reason: RegExp][] = [
    ['alias-bomb.yaml', aliasBomb(9), /YAML aliases expand too far/],
    [
      'unresolved.yaml',
      demo.replace('seed: 42', 'seed: *nope'),
      new RegExp(
        `line ${demo.split('\n').findIndex((l) => l.includes('seed: 42')) + 1}, column 9: unresolved YAML alias \\*nope`,
      ),
    ],
    ['deep.yaml', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, /line 1: nested more than 64 levels deep/],
    [
      'huge-model.yaml',
      demo.replace('modelName: infermark-sim', `modelName: ${'m'.repeat(10 * 1024 * 1024)}`),
      /spec\.endpoint\.endpoint\.modelName: "m{60}… \(10485760 characters\)": is 10485760 characters long: at most 256 allowed/,
    ],
    [
      's3-single-slash.yaml',
      `${demo}  outputLocation:\n    storageUri: 's3:/bucket/x'\n`,
      /storageUri: "s3:\/bucket\/x": .*did you mean "s3:\/\/bucket\/x"\?/,
    ],
    ['garbage.yaml', '\u0000\u0001\u00ff\ufffd{[', /garbage\.yaml: /],
  ];

  test('each file is refused on its own, in well under the time a crash would take', async () => {
    dir = await mkdtemp(join(tmpdir(), 'infermark-validate-'));
    for (const [name, text, reason] of files) {
      const path = join(dir, name);
      await writeFile(path, text);
      const started = performance.now();
      const result = await cli(['validate', path], { timeoutMs: 60_000 });
      const ms = performance.now() - started;
      assert.equal(result.code, ExitCode.badInput, `${name}: ${result.stderr.slice(0, 500)}`);
      assert.ok(result.stderr.includes(path), `${name}: the file is named`);
      assert.match(result.stderr, reason, name);
      assert.doesNotMatch(result.stderr, /internal error|\n\s+at |Error:/, name);
      assert.ok(result.stderr.length < 4_000, `${name}: ${result.stderr.length} characters on stderr`);
      assert.ok(ms < 30_000, `${name}: ${Math.round(ms)} ms`);
    }
  });
});
