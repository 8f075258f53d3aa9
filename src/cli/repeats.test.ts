/**
 * Repeats and run groups through the built CLI against a simulator in its own
 * process: K sealed runs under one run_group_id, each in a seeded iteration order
 * with the same workload items per iteration, group.json, warehouse rows carrying
 * the group, Ctrl-C ending the group, and K = 1 laid out as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { iterationOrder } from '../plan/build-plan.js';
import type { GroupJson } from '../engine/run-group.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { assertNoStack, cli, jsonLines, runArgs, simulatorFixture } from './testing/harness.js';

/** Seed 7 shuffles the 4 iterations of a 3-repeat group into three different orders. */
const SEED = 7;

// ~20 + 9 × 5 = 65 ms per D(20,10) request.
const { sim, tmp } = simulatorFixture('infermark-repeats-', {
  ttftMs: 20,
  ttftPerInputTokenMs: 0,
  itlMs: 5,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

/** 2 scenarios × concurrency 1,2: four iterations. */
function groupArgs(out: string, maxRequests: number, ...extra: string[]): string[] {
  return runArgs({
    url: sim().url,
    out,
    scenario: ['D(20,10)', 'D(30,10)'],
    concurrency: '1,2',
    maxRequests,
    extra: ['--seed', String(SEED), ...extra],
  });
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

interface RunJson {
  run_id: string;
  run_group_id: string;
  repeat: number;
  repeats: number;
  iteration_order: number[];
  benchmark_case_id: string;
}

const iterationDir = (index: number): string => join('iterations', String(index).padStart(3, '0'));

test('--repeats 3 runs three sealed runs under one run group, in seeded orders, with the same items', async () => {
  const out = join(tmp(), 'group');
  const warehousePath = join(tmp(), 'group.duckdb');
  const result = await cli(groupArgs(out, 3, '--repeats', '3', '--json', '--warehouse', warehousePath), {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stderr);
  assertNoStack(result);
  const printed = JSON.parse(result.stdout) as {
    run_group_id: string;
    group_dir: string;
    repeats: number;
    runs: Array<{
      repeat: number;
      run_id: string;
      dir: string;
      iteration_order: number[];
      iterations: unknown[];
    }>;
  };
  assert.equal(printed.repeats, 3);
  assert.equal(printed.group_dir, join(out, printed.run_group_id));
  assert.deepEqual(
    printed.runs.map((run) => run.repeat),
    [0, 1, 2],
  );
  const runIds = printed.runs.map((run) => run.run_id);
  assert.equal(new Set([...runIds, printed.run_group_id]).size, 4, 'run ids and the group id are distinct');

  // The group folder holds group.json and one folder per repeat, nothing else.
  assert.deepEqual((await readdir(printed.group_dir)).sort(), ['group.json', ...runIds].sort());
  const group = await readJson<GroupJson>(join(printed.group_dir, 'group.json'));
  assert.equal(group.run_group_id, printed.run_group_id);
  assert.equal(group.repeats, 3);
  assert.equal(group.seed, SEED);
  assert.deepEqual(
    group.runs.map((run) => [run.repeat, run.run_id, run.dir, run.status]),
    runIds.map((id, repeat) => [repeat, id, id, 'complete']),
  );
  // Seeded: the orders are the ones the seed gives, and here they are not all the same.
  const orders = group.runs.map((run) => run.order);
  assert.deepEqual(
    orders,
    [0, 1, 2].map((repeat) => iterationOrder(4, SEED, repeat, 3)),
  );
  assert.ok(new Set(orders.map((order) => order.join(','))).size >= 2, `orders: ${JSON.stringify(orders)}`);

  const itemDigests: string[][] = [];
  const caseIds = new Set<string>();
  for (const [repeat, entry] of group.runs.entries()) {
    const dir = join(printed.group_dir, entry.dir);
    const report = await verifyRunFolder(dir);
    assert.equal(report.status, 'complete', JSON.stringify(report.problems));
    assert.equal(report.sealed, true);
    assert.equal(report.iterations.length, 4);
    const run = await readJson<RunJson>(join(dir, 'run.json'));
    assert.deepEqual(
      [run.run_id, run.run_group_id, run.repeat, run.repeats, run.iteration_order],
      [entry.run_id, group.run_group_id, repeat, 3, entry.order],
    );
    assert.deepEqual(printed.runs[repeat]?.iteration_order, entry.order);
    caseIds.add(run.benchmark_case_id);
    // Iteration folders keep the plan's index; the requests show the order they really ran in.
    const firstSent: Array<[number, number]> = [];
    const digests: string[] = [];
    for (let index = 0; index < 4; index++) {
      const records = (await jsonLines(join(dir, iterationDir(index), 'requests.jsonl'))) as Array<{
        iteration: number;
        sent_at_us: number;
      }>;
      assert.equal(records.length, 3);
      assert.ok(records.every((r) => r.iteration === index));
      firstSent.push([index, Math.min(...records.map((r) => r.sent_at_us))]);
      const workload = await readJson<{ items_digest: string }>(
        join(dir, iterationDir(index), 'workload.json'),
      );
      digests.push(workload.items_digest);
    }
    assert.deepEqual(
      firstSent.sort((a, b) => a[1] - b[1]).map(([index]) => index),
      entry.order,
    );
    itemDigests.push(digests);
  }
  // The order changes between repeats, never what is sent at a point.
  assert.deepEqual(itemDigests[1], itemDigests[0]);
  assert.deepEqual(itemDigests[2], itemDigests[0]);
  assert.equal(new Set(itemDigests[0]).size, 4, 'each iteration has items of its own');
  // The order is not part of the case: every repeat is the same benchmark case.
  assert.equal(caseIds.size, 1);

  const warehouse = await Warehouse.open(warehousePath, { readOnly: true });
  try {
    const rows = await warehouse.all(
      'SELECT run_id, run_group_id FROM benchmark_run_fact ORDER BY started_at, run_id',
    );
    assert.deepEqual(
      rows.map((row) => [row.run_id, row.run_group_id]),
      runIds.map((id) => [id, group.run_group_id]),
    );
  } finally {
    warehouse.close();
  }
});

test('the same seed gives the same orders again; the text output is the last table and a line per repeat', async () => {
  const out = join(tmp(), 'group-again');
  const result = await cli(groupArgs(out, 1, '--repeats', '3', '--no-warehouse'), { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  const groupDir = /^group folder: (.+)$/m.exec(result.stdout)?.[1];
  assert.ok(groupDir, result.stdout);
  const group = await readJson<GroupJson>(join(groupDir, 'group.json'));
  assert.deepEqual(
    group.runs.map((run) => run.order),
    [0, 1, 2].map((repeat) => iterationOrder(4, SEED, repeat, 3)),
  );
  // One table (the last repeat's): a row per iteration, not one per iteration and repeat.
  const rows = result.stdout.split('\n').filter((line) => /D\((20|30),10\)/.test(line));
  assert.equal(rows.length, 4, result.stdout);
  for (const [repeat, run] of group.runs.entries()) {
    assert.ok(
      result.stdout.includes(`repeat ${repeat + 1}/3: run ${run.run_id} (${join(groupDir, run.dir)})`),
      result.stdout,
    );
    assert.ok(result.stderr.includes(`repeat ${repeat + 1}/3: run ${run.run_id}`), result.stderr);
  }
  assert.ok(result.stdout.includes(`run group ${group.run_group_id}`), result.stdout);
});

test('--repeats overrides the job file; its resultFolderName holds the group folder, here and in the store', async () => {
  const out = join(tmp(), 'file-group');
  const store = join(tmp(), 'store');
  const file = join(tmp(), 'repeats-job.yaml');
  await writeFile(
    file,
    [
      'apiVersion: ome.io/v1beta1',
      'kind: BenchmarkJob',
      'metadata: { name: repeats, namespace: default }',
      'spec:',
      `  endpoint: { endpoint: { url: '${sim().url}', apiFormat: openai, modelName: m } }`,
      '  task: text-to-text',
      "  trafficScenarios: ['D(20,10)']",
      '  numConcurrency: [1]',
      '  maxTimePerIteration: 1',
      '  maxRequestsPerIteration: 1',
      '  resultFolderName: nightly',
      `  outputLocation: { storageUri: '${store}' }`,
      '  repeats: 5',
      '',
    ].join('\n'),
  );
  const result = await cli(['run', file, '--repeats', '2', '--out', out, '--no-warehouse', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as {
    run_group_id: string;
    group_dir: string;
    runs: Array<{ run_id: string; upload: { prefix: string } }>;
  };
  assert.equal(printed.group_dir, join(out, 'nightly', printed.run_group_id));
  assert.equal(printed.runs.length, 2);
  const group = await readJson<GroupJson>(join(printed.group_dir, 'group.json'));
  assert.equal(group.repeats, 2);
  // One iteration: nothing to shuffle.
  assert.deepEqual(
    group.runs.map((run) => run.order),
    [[0], [0]],
  );
  // Each repeat is uploaded as it ends, laid out in the store as it is here.
  for (const run of printed.runs) {
    const prefix = `nightly/${printed.run_group_id}/${run.run_id}`;
    assert.equal(run.upload.prefix, prefix);
    assert.ok(existsSync(join(store, prefix, 'manifest.sha256')), `${prefix} not in the store`);
  }
});

test('Ctrl-C during repeat 2 ends it as an interrupted run; repeat 3 never starts; exit 130', async () => {
  const out = join(tmp(), 'group-sigint');
  let signalled = false;
  // A repeat: c=4 (~0.3 s) and c=1 (20 × 65 ms ≈ 1.3 s), in either order.
  const args = ['run', '--url', sim().url, '--model', 'm', '--scenario', 'D(20,10)'];
  const result = await cli(
    [
      ...args,
      '--concurrency',
      '4,1',
      '--max-requests',
      '20',
      '--repeats',
      '3',
      '--out',
      out,
      '--no-warehouse',
    ],
    {
      timeoutMs: 60_000,
      onStderr: (text, child) => {
        if (!signalled && text.includes('repeat 2/3: run')) {
          signalled = true;
          setTimeout(() => child.kill('SIGINT'), 200);
        }
      },
    },
  );
  assert.ok(signalled, `repeat 2 never started:\n${result.stderr}`);
  assert.equal(result.code, 130, result.stdout + result.stderr);
  assertNoStack(result);
  assert.match(result.stdout, /2 of 3 repeats \(interrupted\)/);
  const groupDir = /^group folder: (.+)$/m.exec(result.stdout)?.[1];
  assert.ok(groupDir, result.stdout);
  const group = await readJson<GroupJson>(join(groupDir, 'group.json'));
  assert.deepEqual(
    group.runs.map((run) => [run.repeat, run.status]),
    [
      [0, 'complete'],
      [1, 'interrupted'],
    ],
  );
  assert.deepEqual(
    (await readdir(groupDir)).sort(),
    ['group.json', ...group.runs.map((run) => run.dir)].sort(),
  );
  const [first, second] = await Promise.all(
    group.runs.map((run) => verifyRunFolder(join(groupDir, run.dir))),
  );
  assert.equal(first?.status, 'complete');
  // Interrupted but sealed, and nothing in it corrupt.
  assert.equal(second?.sealed, true);
  assert.equal(second?.run_status, 'interrupted');
  assert.equal(second?.status, 'partial');
});

test('K = 1 keeps the layout of a run alone: <out>/<run_id>/, no group.json, its own id as the group', async () => {
  const out = join(tmp(), 'single');
  const result = await cli(groupArgs(out, 2, '--repeats', '1', '--json', '--no-warehouse'));
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(printed), [
    'run_id',
    'dir',
    'benchmark_case_id',
    'artifact_manifest_digest',
    'status',
    'failure',
    'upload',
    'warehouse',
    'iterations',
  ]);
  const runId = printed.run_id as string;
  assert.deepEqual(await readdir(out), [runId]);
  assert.equal(printed.dir, join(out, runId));
  assert.equal(existsSync(join(out, runId, 'group.json')), false);
  const run = await readJson<RunJson>(join(out, runId, 'run.json'));
  assert.deepEqual(
    [run.run_group_id, run.repeat, run.repeats, run.iteration_order],
    [runId, 0, 1, [0, 1, 2, 3]],
  );
});

test('a bad --repeats exits 2 naming the flag, on the command line and over a job file', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--url', sim().url, '--model', 'm', '--repeats', '0'], /--repeats: 0: must be ≥ 1/],
    [['run', '--url', sim().url, '--model', 'm', '--repeats', 'x'], /--repeats: "x"/],
    [['run', 'examples/seed-s3.yaml', '--repeats', '0'], /command line: --repeats: 0: must be ≥ 1/],
    [
      ['run', 'examples/seed-s3.yaml', '--repeats', '1.5'],
      /command line: --repeats: 1\.5: expected an integer/,
    ],
  ];
  for (const [args, expected] of cases) {
    const result = await cli([...args, '--out', join(tmp(), 'never')]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, expected);
    assertNoStack(result);
  }
  assert.equal(existsSync(join(tmp(), 'never')), false);
});
