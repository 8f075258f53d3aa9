/**
 * Each simulator fault against a clean baseline, diagnosed from the warehouse: the run
 * scrapes the server, its GPUs (dcgm-exporter), its node (node-exporter) and the cluster
 * (cAdvisor, kube-state-metrics) as any run would, both runs are ingested into a DuckDB
 * file on disk, and `diagnose --vs` must name the affected point and fire the playbook
 * the fault calls for — and fire none on an A/A pair. Real parts only: the simulator in
 * its own process, the real engine and scrapers, the real ingest.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimulatorOptions } from '../sim/options.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { diagnose } from './diagnose.js';
import type { Diagnosis, PlaybookId } from './diagnosis.js';
import { diagnosisText } from './render.js';
import { runAgainstSim } from './testing/sim-runs.js';

let tmp: string;
let warehousePath: string;

interface Load {
  concurrency?: number[];
  rates?: number[];
  maxRequests: number;
}

/** One run against a simulator of its own, scraping all four roles, ingested; its run_id. */
async function runAgainst(sim: Partial<SimulatorOptions>, load: Load): Promise<string> {
  const nodes = sim.nodes ?? 1;
  const { runId } = await runAgainstSim(
    sim,
    (origin) => ({
      ...(load.concurrency ? { concurrency: load.concurrency } : {}),
      ...(load.rates ? { rates: load.rates, arrival: 'constant' } : {}),
      maxRequests: load.maxRequests,
      metricsIntervalSeconds: 0.25,
      telemetry: [
        `gpu=${origin}/sim/dcgm`,
        `cluster=${origin}/sim/cluster`,
        ...Array.from({ length: nodes }, (_, i) => `node=${origin}/sim/nodes/sim-node-${i}/node-exporter`),
      ],
    }),
    { outRoot: tmp, warehousePath },
  );
  return runId;
}

async function pair(
  baseline: Partial<SimulatorOptions>,
  faulted: Partial<SimulatorOptions>,
  load: Load,
): Promise<Diagnosis> {
  const a = await runAgainst(baseline, load);
  const b = await runAgainst(faulted, load);
  return Warehouse.using(warehousePath, { readOnly: true }, (w) =>
    diagnose(w, { runId: b, baselineRunId: a }),
  );
}

function fired(d: Diagnosis): PlaybookId[] {
  return d.findings.map((f) => f.playbook);
}

/** The playbook fired at the point, with facts and raw evidence (a scrape where it reads telemetry). */
function assertFired(d: Diagnosis, playbook: PlaybookId, point: string, scrapes: boolean): void {
  const finding = d.findings.find((f) => f.playbook === playbook);
  assert.ok(finding, `${playbook} did not fire:\n${diagnosisText(d)}`);
  assert.ok(finding.points.includes(point), `${playbook} names ${finding.points.join(', ')}, not ${point}`);
  assert.ok(finding.facts.length > 0 && finding.evidence.length > 0);
  if (scrapes) {
    assert.ok(
      finding.evidence.some((e) => /\/telemetry\/[^/]+\/\d+\.prom\.gz$/.test(e.path)),
      `${playbook}: no raw scrape among ${finding.evidence.map((e) => e.path).join(', ')}`,
    );
  }
  assert.ok(
    d.points.find((p) => `${p.scenario}@${p.point}` === point)?.changed,
    'the point is marked changed',
  );
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-playbooks-'));
  warehousePath = join(tmp, 'warehouse.duckdb');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('A/A, with every telemetry role scraped: no playbook fires', async () => {
  const d = await pair({ nodes: 2 }, { nodes: 2 }, { concurrency: [4], maxRequests: 80 });
  assert.deepEqual(fired(d), [], diagnosisText(d));
  assert.deepEqual(
    d.points.filter((p) => p.changed).map((p) => p.point),
    [],
  );
  // The telemetry was there to judge: windows by GPU and node.
  assert.ok(!d.notes.some((n) => n.includes('no telemetry')), d.notes.join('\n'));
});

test('throttling (every GPU at half clock): gpu-throttling, not a straggler', async () => {
  const d = await pair({}, { throttle: 0.5 }, { concurrency: [4], maxRequests: 80 });
  assertFired(d, 'gpu-throttling', 'D(32,16)@c4', true);
  assert.ok(!fired(d).includes('straggler'), diagnosisText(d));
});

test('a queue (capacity 2 under 8 streams): server-queue', async () => {
  const d = await pair({}, { capacity: 2 }, { concurrency: [8], maxRequests: 80 });
  assertFired(d, 'server-queue', 'D(32,16)@c8', true);
});

test('a slow node of two: straggler, naming the node', async () => {
  const d = await pair(
    { nodes: 2 },
    { nodes: 2, slowNode: 1, slowNodeFactor: 2 },
    { concurrency: [4], maxRequests: 80 },
  );
  assertFired(d, 'straggler', 'D(32,16)@c4', true);
  const finding = d.findings.find((f) => f.playbook === 'straggler')!;
  assert.ok(
    finding.facts.some((f) => f.startsWith('sim-node-1')),
    finding.facts.join('\n'),
  );
  assert.ok(!finding.facts.some((f) => f.startsWith('sim-node-0')), finding.facts.join('\n'));
});

test('a restart mid-run (cold start): tail-amplification', async () => {
  const d = await pair(
    {},
    { restartAfterRequests: 120, restartDowntimeMs: 400 },
    { rates: [60], maxRequests: 300 },
  );
  assertFired(d, 'tail-amplification', 'D(32,16)@r60', false);
  const point = d.points[0]!;
  assert.equal(point.shape, 'tail-only');
  // The restart itself is in the evidence: the restarts counter moved.
  assert.ok(
    point.telemetry.some((m) => m.family === 'container_restarts'),
    diagnosisText(d),
  );
});

test('CPU-throttled preprocessing (GPUs idle): gpus-waiting', async () => {
  const d = await pair(
    { capacity: 4 },
    { capacity: 4, cpuThrottleMs: 80 },
    { concurrency: [4], maxRequests: 80 },
  );
  assertFired(d, 'gpus-waiting', 'D(32,16)@c4', true);
});
