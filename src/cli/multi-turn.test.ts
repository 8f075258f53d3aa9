// A multi-turn job through the built CLI against the simulator (issue 19, acceptance 2): the
// per-turn figures in summary.json, the same conversations and requests with `--workers 2` as
// with one process (conversations are what the shards are dealt), the records' conversation
// and turn in the warehouse, and the report's TTFT-by-turn table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Warehouse } from '../warehouse/warehouse.js';
import { cli, jsonLines, runFolderUnder, simulatorFixture, writeJobYaml } from './testing/harness.js';

const { sim, tmp } = simulatorFixture('infermark-multiturn-cli-', {
  ttftMs: 5,
  ttftJitterMs: 0,
  itlMs: 1,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

interface Rec {
  index: number;
  request_id: string;
  phase: string;
  status: string;
  conversation_id: string | null;
  turn_index: number | null;
  scheduled_at_us: number;
  done_at_us: number | null;
  sent_at_us: number;
}
interface Summary {
  mode: string;
  requests: { total: number; measured: number; completed: number; planned: number | null };
  per_turn?: { turn_index: number; completed: number; ttft_ms: { count: number; p50: number | null } }[];
  conversations?: { started: number; completed: number; cut: number };
}

async function run(workers: number): Promise<string> {
  const name = `chat-${workers}`;
  const path = await writeJobYaml(join(tmp(), `${name}.yaml`), {
    name,
    url: sim().url,
    scenarios: ['D(32,4)'],
    concurrency: [2],
    maxTimePerIteration: 20,
    maxRequestsPerIteration: 6,
    spec: [
      'requestRates: [40]',
      'warmup: { requests: 1 }',
      `workers: ${workers}`,
      'seed: 11',
      'multiTurn: { turns: 3, thinkTimeSeconds: 0.01 }',
    ],
  });
  const out = join(tmp(), name);
  const result = await cli(['run', path, '--out', out, '--quiet', '--no-warehouse'], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  return runFolderUnder(out);
}

async function iteration(dir: string, i: number) {
  const at = join(dir, 'iterations', String(i).padStart(3, '0'));
  return {
    records: (await jsonLines(join(at, 'requests.jsonl'))) as Rec[],
    summary: JSON.parse(await readFile(join(at, 'summary.json'), 'utf8')) as Summary,
    workload: JSON.parse(await readFile(join(at, 'workload.json'), 'utf8')) as { items_digest: string },
  };
}

const key = (r: Rec): string => `${r.index} ${r.conversation_id} ${r.turn_index} ${r.phase}`;

test('a multi-turn job: per-turn figures, and --workers 2 sends the conversations --workers 1 sends', async () => {
  const one = await run(1);
  const two = await run(2);
  for (const i of [0, 1]) {
    const a = await iteration(one, i);
    const b = await iteration(two, i);
    // One warmup conversation, then six measured ones, three turns each, all whole.
    assert.equal(a.records.length, 21, `iteration ${i}: requests`);
    assert.deepEqual(a.summary.conversations, { started: 6, completed: 6, cut: 0 });
    assert.equal(a.summary.requests.planned, 18, 'planned: the turns of the measured conversations');
    assert.deepEqual(
      a.summary.per_turn?.map((t) => [t.turn_index, t.completed, t.ttft_ms.count]),
      [
        [0, 6, 6],
        [1, 6, 6],
        [2, 6, 6],
      ],
    );
    console.log(
      `# iteration ${i}: TTFT p50 by turn ${a.summary.per_turn?.map((t) => t.ttft_ms.p50?.toFixed(2)).join(' / ')} ms`,
    );
    // Each conversation's turns in order: a turn leaves after the answer before it.
    const byConversation = new Map<string | null, Rec[]>();
    for (const r of a.records)
      byConversation.set(r.conversation_id, [...(byConversation.get(r.conversation_id) ?? []), r]);
    for (const [id, turns] of byConversation) {
      const sorted = turns.sort((x, y) => (x.turn_index ?? 0) - (y.turn_index ?? 0));
      assert.deepEqual(
        sorted.map((r) => r.turn_index),
        [0, 1, 2],
        `conversation ${id}`,
      );
      for (let t = 1; t < sorted.length; t++) {
        assert.ok(
          sorted[t]!.sent_at_us >= sorted[t - 1]!.done_at_us! + 10_000,
          `conversation ${id} turn ${t}`,
        );
      }
    }
    // The split run: the same conversations, requests and items.
    assert.deepEqual(b.records.map(key).sort(), a.records.map(key).sort(), `iteration ${i}: same requests`);
    assert.deepEqual(b.summary.conversations, a.summary.conversations);
    assert.equal(b.summary.requests.planned, a.summary.requests.planned);
    assert.equal(b.workload.items_digest, a.workload.items_digest);
  }

  const warehouse = join(tmp(), 'w.duckdb');
  const ingest = await cli(['warehouse', 'ingest', one, '--warehouse', warehouse, '--format', 'json']);
  assert.equal(ingest.code, 0, ingest.stderr);
  const w = await Warehouse.open(warehouse);
  try {
    const rows = await w.all(
      `SELECT turn_index, count(*)::INTEGER AS n, count(DISTINCT conversation_id)::INTEGER AS conversations
       FROM request_fact WHERE phase = 'measured' GROUP BY turn_index ORDER BY turn_index`,
    );
    assert.deepEqual(rows, [
      { turn_index: 0, n: 12, conversations: 12 },
      { turn_index: 1, n: 12, conversations: 12 },
      { turn_index: 2, n: 12, conversations: 12 },
    ]);
  } finally {
    w.close();
  }
  const runId = (JSON.parse(await readFile(join(one, 'run.json'), 'utf8')) as { run_id: string }).run_id;
  const md = await cli(['report', runId, '--warehouse', warehouse, '--format', 'md', '-o', '-']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /\*\*TTFT by turn\*\*/);
  assert.match(md.stdout, /\| point \| turn \| requests \| TTFT p50 \| TTFT p99 \| input tokens \(mean\) \|/);
  assert.match(md.stdout, /\| D\(32,4\) @ [^|]+ \| 2 \| 6 \| \d/);
  const html = await cli(['report', runId, '--warehouse', warehouse, '--format', 'html', '-o', '-']);
  assert.equal(html.code, 0, html.stderr);
  assert.match(html.stdout, /<h2 id="turns">TTFT by turn<\/h2>/);
});
