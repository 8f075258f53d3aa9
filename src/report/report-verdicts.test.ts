/**
 * A report's gate verdicts need the warehouse only: two run groups of 2 repeats
 * of one job are run by the built CLI against the simulator (its own process) and
 * ingested into a DuckDB file on disk; the verdicts the gate gives on their run
 * folders are taken; then the run folders are deleted, and
 * `infermark report B --vs A --warehouse W` still builds, with the same verdicts
 * (HTML and Markdown). Also: the report of one group alone, folders gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, simulatorFixture, VLLM_ON_2_H100, writeJobYaml } from '../cli/testing/harness.js';
import { baselineFrom } from '../gate/baseline.js';
import { regressionChecks } from '../gate/checks.js';
import { loadRunGroup } from '../gate/run-group.js';
import type { ReportData } from './report-data.js';
import { DEFAULT_TOLERANCES, verdictRow } from './report-verdicts.js';

const { sim, tmp } = simulatorFixture('infermark-report-verdicts-', {
  ttftMs: 10,
  ttftPerInputTokenMs: 0,
  ttftJitterMs: 3,
  itlMs: 3,
  itlJitterMs: 1,
});

function embedded(html: string): ReportData {
  const match = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(match, 'no embedded report data');
  return JSON.parse(match[1] as string) as ReportData;
}

test('with the raw run folders deleted, report B --vs A builds from the warehouse with the gate verdicts of the folders', async () => {
  const warehouse = join(tmp(), 'warehouse.duckdb');
  const job = await writeJobYaml(join(tmp(), 'job.yaml'), {
    name: 'report-verdicts-warehouse',
    url: sim().url,
    scenarios: ['D(16,6)'],
    concurrency: [1, 2],
    maxRequestsPerIteration: 8,
    spec: [VLLM_ON_2_H100],
  });
  const runGroup = async (out: string): Promise<{ id: string; dir: string }> => {
    const result = await cli(
      [
        'run',
        job,
        '--repeats',
        '2',
        '--out',
        join(tmp(), out),
        '--quiet',
        '--json',
        '--warehouse',
        warehouse,
      ],
      { timeoutMs: 90_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { run_group_id: string; group_dir: string };
    return { id: parsed.run_group_id, dir: parsed.group_dir };
  };
  const a = await runGroup('a');
  const b = await runGroup('b');

  // What the gate decides on the run folders, before they go.
  const checks = regressionChecks(
    { path: 'a', sha256: '', value: baselineFrom(await loadRunGroup([a.dir])) },
    DEFAULT_TOLERANCES,
    await loadRunGroup([b.dir]),
  );
  const expected = JSON.parse(JSON.stringify(checks.map(verdictRow))) as unknown;
  assert.ok(checks.length > 0);

  await rm(join(tmp(), 'a'), { recursive: true });
  await rm(join(tmp(), 'b'), { recursive: true });
  for (const dir of [a.dir, b.dir])
    assert.equal(await stat(dir).catch(() => null), null, `${dir} still there`);

  const report = async (args: string[], file: string): Promise<string> => {
    const out = join(tmp(), file);
    const result = await cli(['report', ...args, '--warehouse', warehouse, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    return readFile(out, 'utf8');
  };
  const html = await report([b.id, '--vs', a.id], 'vs.html');
  const data = embedded(html);
  assert.equal(data.subject.kind, 'run_group');
  assert.equal(data.subject.run_ids.length, 2);
  assert.equal(data.gate?.status, 'ok', data.gate?.message);
  assert.deepEqual(data.gate.repeats, { a: 2, b: 2 });
  assert.deepEqual(data.gate.rows, expected);
  assert.match(html, /id="gate-verdicts"/);
  assert.ok(data.deltas.some((d) => d.gate_verdict !== undefined && d.gate_verdict !== null));

  const md = await report([b.id, '--vs', a.id, '--format', 'md'], 'vs.md');
  assert.match(md, /\*\*Gate verdicts \(B against A as the baseline\)\*\*/);
  assert.match(md, /^\| D\(16,6\)\.c2\.ttft_ms\.p99 \| INCONCLUSIVE \|/m);

  // The group alone: its points are the medians over its 2 repeats, from the warehouse.
  const alone = embedded(await report([b.id], 'alone.html'));
  assert.equal(alone.subject.points.length, 2);
  assert.ok(alone.subject.points.every((p) => p.repeats === 2));
});
