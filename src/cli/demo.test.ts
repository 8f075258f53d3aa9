/**
 * The demo's closing lines: the next commands a newcomer would type, on the demo's
 * own run folder. Each printed command is run here (the built CLI, against a run of
 * the simulator) and must succeed, so the advice cannot go stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { nextCommands, shellArg } from './demo.js';
import { assertNoStack, cli, cliRunFolder, runArgs, simulatorFixture, SMALL_RUN } from './testing/harness.js';

const { sim, tmp } = simulatorFixture('infermark-demo-', { ttftMs: 5, itlMs: 1, itlJitterMs: 0 });

test('nextCommands: report, warehouse, serve and verify on the run folder, with the warehouse it used', () => {
  const text = nextCommands('.infermark/runs/0190aaaa', undefined);
  assert.match(text, /^\nnext:\n/);
  assert.match(text, /npx infermark report \.infermark\/runs\/0190aaaa -o report\.html +# /);
  assert.match(text, /npx infermark warehouse runs +# /);
  assert.match(text, /npx infermark serve +# /);
  assert.match(text, /npx infermark run --url http:\/\/127\.0\.0\.1:8000 --model MODEL +# /);
  assert.doesNotMatch(text, /--warehouse|ingest/);
  const own = nextCommands('runs/x', '/data/my warehouse.duckdb');
  assert.match(own, /npx infermark warehouse runs --warehouse '\/data\/my warehouse\.duckdb' +# /);
  assert.match(nextCommands('runs/x', false), /npx infermark warehouse ingest runs\/x +# /);
});

test('shellArg quotes only what a shell would split or expand', () => {
  assert.equal(shellArg('.infermark/runs/0190-ab_c'), '.infermark/runs/0190-ab_c');
  assert.equal(shellArg('a b'), "'a b'");
  assert.equal(shellArg("it's"), `'it'\\''s'`);
  assert.equal(shellArg('$HOME'), "'$HOME'");
});

test('every next command but serve and run succeeds on a real run folder (--no-warehouse: ingest first)', async () => {
  const out = join(tmp(), 'runs');
  const dir = await cliRunFolder(runArgs({ ...SMALL_RUN, url: sim().url, out, warehouse: false }), out);
  const warehouse = join(tmp(), 'warehouse.duckdb');
  const commands = nextCommands(dir, false)
    .split('\n')
    .map((line) => /^ {2}npx infermark (.*?) +# /.exec(line)?.[1])
    .filter((command): command is string => command !== undefined);
  assert.equal(commands.length, 9, commands.join('\n'));
  let ran = 0;
  for (const command of commands) {
    if (/^(serve|run)\b/.test(command)) continue;
    const args = command.split(' ').map((arg) => (arg === 'report.html' ? join(tmp(), arg) : arg));
    const result = await cli(args, { env: { ...process.env, INFERMARK_WAREHOUSE: warehouse } });
    assert.equal(result.code, 0, `${command}: ${result.stderr}`);
    assertNoStack(result);
    ran += 1;
  }
  assert.equal(ran, 7);
});
