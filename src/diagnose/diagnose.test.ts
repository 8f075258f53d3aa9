/**
 * diagnose() on real runs: a baseline and a changed run against the simulator (in its
 * own process), each ingested into a DuckDB file on disk, then diagnosed. An A/A pair
 * (the same simulator settings twice) fires no playbook and marks no point changed; a
 * queue (the simulator's batch capacity cut so requests wait) marks the point changed in
 * the whole distribution; a sweep past the capacity shows the saturation knee on its own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeRunGroup } from '../engine/run-group.js';
import { spawnSimulator } from '../sim/spawn.js';
import type { SimulatorOptions } from '../sim/options.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { diagnose } from './diagnose.js';
import { DIAGNOSE_SIM, runAgainstSim } from './testing/sim-runs.js';
import type { Diagnosis } from './diagnosis.js';
import { diagnosisMarkdown, diagnosisText } from './render.js';

let tmp: string;
let warehousePath: string;
const folders = new Map<string, string>();

/** One run against a simulator of its own, ingested; its run_id. */
async function runAgainst(
  sim: Partial<SimulatorOptions>,
  concurrency: number[],
  maxRequests = 64,
): Promise<string> {
  const { runId, dir } = await runAgainstSim(
    sim,
    () => ({ concurrency, maxRequests, metricsIntervalSeconds: 0.2 }),
    { outRoot: tmp, warehousePath },
  );
  folders.set(runId, dir);
  return runId;
}

async function diagnosed(runId: string, baselineRunId?: string): Promise<Diagnosis> {
  return Warehouse.using(warehousePath, { readOnly: true }, (w) =>
    diagnose(w, { runId, ...(baselineRunId ? { baselineRunId } : {}) }),
  );
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-diagnose-'));
  warehousePath = join(tmp, 'warehouse.duckdb');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('an A/A pair: no point changed, no playbook fired', async () => {
  const a = await runAgainst({}, [4]);
  const b = await runAgainst({}, [4]);
  const d = await diagnosed(b, a);
  assert.equal(d.baseline_run_id, a);
  assert.equal(d.points.length, 1);
  assert.deepEqual(
    d.points.map((p) => [p.point, p.changed]),
    [['c4', false]],
    diagnosisText(d),
  );
  assert.deepEqual(d.findings, [], diagnosisText(d));
  const test = d.points[0]!.tests.find((t) => t.metric === 'ttft');
  assert.ok(test && test.samples_current > 0 && test.samples_baseline > 0, 'sample sizes are stated');
});

test('a queue (batch capacity cut): the point changed in the whole distribution, outliers point at their records', async () => {
  const base = await runAgainst({}, [8]);
  const slow = await runAgainst({ capacity: 2 }, [8]);
  const d = await diagnosed(slow, base);
  const point = d.points[0]!;
  assert.equal(point.changed, true, diagnosisText(d));
  assert.equal(point.shape, 'whole-distribution');
  const ttftP50 = point.stats.find((s) => s.metric === 'ttft' && s.stat === 'p50')!;
  assert.equal(ttftP50.verdict, 'worse');
  assert.ok(point.outliers.length > 0);
  // Every outlier's pointer is the exact line of its record.
  const lines = (await readFile(join(folders.get(slow)!, point.outliers[0]!.evidence.path), 'utf8')).split(
    '\n',
  );
  for (const o of point.outliers) {
    const record = JSON.parse(lines[(o.evidence.line as number) - 1] as string) as { request_id: string };
    assert.equal(record.request_id, o.request_id);
  }
  assert.match(diagnosisMarkdown(d), /## Diagnosis/);
});

test('one run past its capacity: the saturation knee is found without a baseline', async () => {
  const run = await runAgainst({ capacity: 2 }, [1, 2, 8], 48);
  const d = await diagnosed(run);
  const knee = d.findings.find((f) => f.playbook === 'saturation-knee');
  assert.ok(knee, diagnosisText(d));
  assert.deepEqual(knee.points, ['D(32,16)@c2', 'D(32,16)@c8']);
});

test("run groups (2 repeats a side, below the gate's minimum): the pooled requests judge the queue, and the notes say so", async () => {
  const group = async (sim: Partial<SimulatorOptions>): Promise<string> => {
    const server = await spawnSimulator({ ...DIAGNOSE_SIM, ...sim });
    try {
      const job = jobFromCli({
        url: server.url,
        model: 'm',
        name: 'diagnose-groups',
        scenarios: ['D(32,16)'],
        concurrency: [8],
        maxRequests: 40,
        repeats: 2,
        seed: 7,
      });
      const result = await executeRunGroup(
        { job, jobFile: null, endpoint: resolveEndpoint(job), outRoot: tmp },
        async (run) => {
          await Warehouse.using(warehousePath, {}, (w) => ingestRunFolder(w, run.dir));
          return run;
        },
      );
      return result.runGroupId;
    } finally {
      await server.close();
    }
  };
  const base = await group({});
  const slow = await group({ capacity: 2 });
  const d = await diagnosed(slow, base);
  assert.ok(
    d.notes.some((n) => n.includes('run group of 2 repeats')),
    d.notes.join('\n'),
  );
  const point = d.points[0]!;
  assert.equal(point.changed, true, diagnosisText(d));
  assert.equal(point.shape, 'whole-distribution');
  // The gate's verdicts are inconclusive at 2 repeats, so the request-level tests decide, stated as such.
  const ttft = point.tests.find((t) => t.metric === 'ttft')!;
  assert.equal(ttft.method, 'requests');
  assert.equal(ttft.samples_current, 80);
});
