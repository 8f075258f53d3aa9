/**
 * The playbooks: performance-warehouse.md's scenarios ("p99 doubled, mean barely changed",
 * "throughput dropped and GPU utilisation is low", "one node slower") and the serving ones
 * the data supports (server queue, saturation knee, KV-cache pressure, GPU throttling, a
 * client at its limit), as rules that fire on evidence and say what to check next. One
 * entry per playbook; a rule reads the judged points and returns its findings, each with
 * the facts (numbers) that fired it and pointers to the raw evidence.
 */
import type { EvidencePointer, Finding, PlaybookId, PointDiagnosis, TelemetryMove } from './diagnosis.js';
import { relativeChange } from './compare-point.js';
import { knees } from './knee.js';
import { familyMean, type PointRow, type ScopedSeries } from './point-data.js';

/** One point with everything judged about it. */
export interface JudgedPoint {
  diagnosis: PointDiagnosis;
  current: PointRow;
  baseline: PointRow | null;
  telemetry: ScopedSeries[];
  baselineTelemetry: ScopedSeries[] | null;
}

export interface RunEvidence {
  /** Whether a baseline was given: rules that compare need one; single-run rules judge within the run. */
  compare: boolean;
  points: JudgedPoint[];
}

type Draft = Pick<Finding, 'severity' | 'points' | 'facts' | 'evidence'>;

export interface Playbook {
  id: PlaybookId;
  title: string;
  interpretation: string;
  check_next: string[];
  judge(run: RunEvidence): Draft[];
}

const pct = (change: number | null): string =>
  change === null ? 'n/a' : `${change >= 0 ? '+' : ''}${(change * 100).toFixed(0)}%`;
const fmt = (value: number | null, digits = 1): string => (value === null ? 'n/a' : value.toFixed(digits));
const at = (p: JudgedPoint): string => `${p.current.scenario}@${p.current.point}`;

function stat(
  p: JudgedPoint,
  metric: string,
  s: string,
): { base: number | null; cur: number | null; change: number | null } {
  const found = p.diagnosis.stats.find((x) => x.metric === metric && x.stat === s);
  return {
    base: found?.baseline ?? null,
    cur: found?.current ?? null,
    change: found?.relative_change ?? null,
  };
}

/** The point's evidence: its outlier requests, then the raw scrapes of the moves named. */
function pointEvidence(p: JudgedPoint, families: readonly string[] = []): EvidencePointer[] {
  const moves = p.diagnosis.telemetry.filter((m) => families.includes(m.family));
  return [
    ...p.diagnosis.outliers.slice(0, 3).map((o) => o.evidence),
    ...moves.flatMap((m) => m.evidence.slice(0, 1)),
  ];
}

const moveOf = (p: JudgedPoint, family: string): TelemetryMove[] =>
  p.diagnosis.telemetry.filter((m) => m.family === family);

const worse = (p: JudgedPoint): boolean => p.diagnosis.changed && p.diagnosis.shape !== 'improved';

const throughputChange = (p: JudgedPoint): number | null =>
  relativeChange(
    p.baseline?.output_throughput_tokens_per_s ?? null,
    p.current.output_throughput_tokens_per_s,
  );

/** The families a node-level straggler shows in, and which way is bad. */
const STRAGGLER_SIGNS: { family: string; bad: 'low' | 'high' }[] = [
  { family: 'sm_clock', bad: 'low' },
  { family: 'server_itl', bad: 'high' },
  { family: 'server_ttft', bad: 'high' },
  { family: 'gpu_temperature', bad: 'high' },
  { family: 'gpu_pcie_replays', bad: 'high' },
  { family: 'gpu_xid_errors', bad: 'high' },
];
/** How far one node must stand from the median of the others. */
const STRAGGLER_DEVIATION = 0.2;

interface NodeDeviation {
  family: string;
  node: string;
  value: number;
  others: number;
  unit: string;
  series: ScopedSeries[];
}

/** Per family, the node that stands apart from the others (needs at least two nodes). */
function nodeDeviations(telemetry: ScopedSeries[]): NodeDeviation[] {
  const out: NodeDeviation[] = [];
  for (const sign of STRAGGLER_SIGNS) {
    const byNode = new Map<string, ScopedSeries[]>();
    for (const s of telemetry) {
      if (s.family !== sign.family || s.node_name === null) continue;
      byNode.set(s.node_name, [...(byNode.get(s.node_name) ?? []), s]);
    }
    if (byNode.size < 2) continue;
    const means = [...byNode].map(([node, series]) => ({
      node,
      series,
      value: series.reduce((a, s) => a + s.mean, 0) / series.length,
    }));
    for (const candidate of means) {
      const others = means
        .filter((m) => m !== candidate)
        .map((m) => m.value)
        .sort((a, b) => a - b);
      const median = others[Math.floor((others.length - 1) / 2)] as number;
      const apart =
        sign.bad === 'low'
          ? median > 0 && candidate.value <= median * (1 - STRAGGLER_DEVIATION)
          : candidate.value > 0 &&
            (median === 0 ? candidate.value > 0 : candidate.value >= median * (1 + STRAGGLER_DEVIATION));
      // Counters of rare events (replays, XIDs) stand apart on any count; levels need a margin.
      if (apart && (median !== 0 || sign.family.startsWith('gpu_'))) {
        out.push({
          family: sign.family,
          node: candidate.node,
          value: candidate.value,
          others: median,
          unit: candidate.series[0]?.unit ?? '',
          series: candidate.series,
        });
      }
    }
  }
  return out;
}

function seriesEvidence(series: ScopedSeries[]): EvidencePointer[] {
  return series.flatMap((s) => {
    const w = s.windows.find((x) => x.source_path !== null);
    return w
      ? [
          {
            run_id: s.run_id,
            path: w.source_path as string,
            label: `scrape of ${s.family} at ${s.scope === s.scope_id ? s.scope : `${s.scope} ${s.scope_id}`}`,
          },
        ]
      : [];
  });
}

const tailAmplification: Playbook = {
  id: 'tail-amplification',
  title: 'p99 rose, the median barely moved',
  interpretation: 'Tail amplification, not a raw compute regression: a few requests waited much longer.',
  check_next: [
    'request queue time (server and client)',
    'pod CPU throttling',
    'autoscaling, restart or cold-start activity',
    'node-local DNS or service-resolution anomalies',
    'whether a dedicated node pool removes the p99 regression',
  ],
  judge(run) {
    if (!run.compare) return [];
    return run.points
      .filter((p) => p.diagnosis.changed && p.diagnosis.shape === 'tail-only')
      .map((p) => {
        const facts: string[] = [];
        for (const metric of ['e2e_latency', 'ttft']) {
          const p99 = stat(p, metric, 'p99');
          const p50 = stat(p, metric, 'p50');
          const mean = stat(p, metric, 'mean');
          facts.push(
            `${metric} p99 ${fmt(p99.base)} → ${fmt(p99.cur)} ms (${pct(p99.change)}); p50 ${pct(p50.change)}, mean ${pct(mean.change)}`,
          );
        }
        for (const family of ['container_restarts', 'server_queue_time', 'cpu_throttled_periods']) {
          for (const m of moveOf(p, family)) {
            facts.push(
              `${family} at ${m.scope} ${m.scope_id}: ${fmt(m.baseline, 3)} → ${fmt(m.current, 3)} ${m.unit}`,
            );
          }
        }
        return {
          severity: 'high' as const,
          points: [at(p)],
          facts,
          evidence: pointEvidence(p, ['container_restarts', 'server_queue_time', 'cpu_throttled_periods']),
        };
      });
  },
};

const serverQueue: Playbook = {
  id: 'server-queue',
  title: 'Requests wait in the server before they run',
  interpretation:
    'The serving batch is full: new requests queue in the server, so TTFT grows with the queue.',
  check_next: [
    'the engine’s batch limit (max_num_seqs, max batched tokens) against the offered load',
    'KV-cache size and usage (a full cache admits fewer sequences)',
    'more replicas or autoscaling thresholds',
    'admission control or rate limits in front of the server',
  ],
  judge(run) {
    if (!run.compare) return [];
    const out: Draft[] = [];
    for (const p of run.points) {
      if (!worse(p)) continue;
      const ttft = stat(p, 'ttft', 'mean');
      if ((ttft.change ?? 0) < 0.2) continue;
      const waiting = familyMean(p.telemetry, 'requests_waiting', 'server');
      const waitingBase = p.baselineTelemetry
        ? familyMean(p.baselineTelemetry, 'requests_waiting', 'server')
        : null;
      const queue = familyMean(p.telemetry, 'server_queue_time', 'server');
      const queueBase = p.baselineTelemetry
        ? familyMean(p.baselineTelemetry, 'server_queue_time', 'server')
        : null;
      const waitingRose = waiting !== null && waiting >= 1 && waiting >= 2 * (waitingBase ?? 0) + 0.5;
      const queueRose = queue !== null && queue * 1000 >= 5 && queue >= 1.5 * (queueBase ?? 0);
      if (!waitingRose && !queueRose) continue;
      out.push({
        severity: 'high',
        points: [at(p)],
        facts: [
          `TTFT mean ${fmt(ttft.base)} → ${fmt(ttft.cur)} ms (${pct(ttft.change)})`,
          `requests waiting in the server: ${fmt(waitingBase, 2)} → ${fmt(waiting, 2)} (mean over the windows)`,
          `server queue time: ${fmt(queueBase === null ? null : queueBase * 1000)} → ${fmt(queue === null ? null : queue * 1000)} ms (mean)`,
        ],
        evidence: pointEvidence(p, ['requests_waiting', 'server_queue_time']),
      });
    }
    return out;
  },
};

const kvCachePressure: Playbook = {
  id: 'kv-cache-pressure',
  title: 'The KV cache is full or preempting',
  interpretation:
    'KV-cache pressure: sequences are preempted or held back for cache space, which costs recomputation and queueing.',
  check_next: [
    'gpu_memory_utilization and the KV-cache block count the engine reports at start',
    'preemption mode (recompute or swap) and its count',
    'prompt and output lengths of the workload (longer sequences hold more blocks)',
    'prefix caching, which lets sequences share blocks',
  ],
  judge(run) {
    if (!run.compare) return [];
    const out: Draft[] = [];
    for (const p of run.points) {
      if (!worse(p)) continue;
      const usage = familyMean(p.telemetry, 'kv_cache_usage');
      const usageBase = p.baselineTelemetry ? familyMean(p.baselineTelemetry, 'kv_cache_usage') : null;
      const preempt = familyMean(p.telemetry, 'preemptions');
      const preemptBase = p.baselineTelemetry ? familyMean(p.baselineTelemetry, 'preemptions') : null;
      const preempting = preempt !== null && preempt > 0.01 && preempt >= 2 * (preemptBase ?? 0);
      const full = usage !== null && usage >= 0.9 && (usageBase ?? 0) < 0.9;
      if (!preempting && !full) continue;
      out.push({
        severity: preempting ? 'high' : 'medium',
        points: [at(p)],
        facts: [
          `KV-cache usage ${fmt(usageBase, 2)} → ${fmt(usage, 2)} (mean, 1 = full)`,
          `preemptions ${fmt(preemptBase, 3)} → ${fmt(preempt, 3)} per s`,
        ],
        evidence: pointEvidence(p, ['kv_cache_usage', 'preemptions']),
      });
    }
    return out;
  },
};

const gpuThrottling: Playbook = {
  id: 'gpu-throttling',
  title: 'The GPUs run at lower clocks',
  interpretation:
    'Clock throttling: token generation slowed because the SM clock dropped (power or thermal limits).',
  check_next: [
    'DCGM clock-event (throttle) reasons: power cap, HW slowdown, thermal',
    'GPU temperature and cooling; power limits (nvidia-smi -q -d POWER)',
    'whether another workload shares the GPUs',
  ],
  judge(run) {
    if (!run.compare) return [];
    const out: Draft[] = [];
    for (const p of run.points) {
      if (!worse(p) || p.baselineTelemetry === null) continue;
      const clocks = p.telemetry.filter((s) => s.family === 'sm_clock');
      if (clocks.length === 0) continue;
      // The same GPU in the baseline, or (other GPUs: a new deployment) the baseline's mean clock.
      const fleet = familyMean(p.baselineTelemetry, 'sm_clock');
      const dropped = clocks.filter((s) => {
        const base = p.baselineTelemetry!.find((b) => b.family === 'sm_clock' && b.scope_id === s.scope_id);
        const reference = base?.mean ?? fleet;
        return reference !== null && s.mean <= reference * 0.9;
      });
      // One node's GPUs alone is a straggler, not the fleet.
      if (dropped.length === 0 || dropped.length < clocks.length / 2) continue;
      const tpot = stat(p, 'tpot', 'mean');
      const base = familyMean(p.baselineTelemetry, 'sm_clock');
      const cur = familyMean(dropped, 'sm_clock');
      const reasons = familyMean(p.telemetry, 'gpu_clock_throttle_reasons');
      out.push({
        severity: 'high',
        points: [at(p)],
        facts: [
          `SM clock ${fmt(base, 0)} → ${fmt(cur, 0)} MHz on ${dropped.length} of ${clocks.length} GPUs`,
          `TPOT mean ${fmt(tpot.base)} → ${fmt(tpot.cur)} ms (${pct(tpot.change)})`,
          ...(reasons !== null && reasons > 1
            ? [`clock throttle reasons set (mean bitmask ${fmt(reasons, 0)})`]
            : []),
        ],
        evidence: [...seriesEvidence(dropped.slice(0, 2)), ...pointEvidence(p).slice(0, 2)],
      });
    }
    return out;
  },
};

const straggler: Playbook = {
  id: 'straggler',
  title: 'One node is slower than the others',
  interpretation: 'Classic straggler behaviour: one node holds the tail while the others are healthy.',
  check_next: [
    'that node’s clocks and thermals (DCGM SM clock, temperature, throttle reasons)',
    'XID errors in its kernel log',
    'PCIe replays and link width/speed (nvidia-smi -q -d PCIE)',
    'co-located workloads on that node',
  ],
  judge(run) {
    const out: Draft[] = [];
    const seen = new Set<string>();
    for (const p of run.points) {
      if (run.compare && !worse(p)) continue;
      const current = nodeDeviations(p.telemetry);
      // Compared: only a node that stands apart now and did not before.
      const before = p.baselineTelemetry ? nodeDeviations(p.baselineTelemetry) : [];
      const fresh = current.filter((d) => !before.some((b) => b.family === d.family && b.node === d.node));
      if (fresh.length === 0) continue;
      const nodes = [...new Set(fresh.map((d) => d.node))];
      const key = nodes.join(',');
      if (seen.has(key) && !run.compare) continue;
      seen.add(key);
      out.push({
        severity: 'high',
        points: [at(p)],
        facts: fresh.map(
          (d) =>
            `${d.node}: ${d.family} ${fmt(d.value, 2)} ${d.unit} against ${fmt(d.others, 2)} on the other nodes (median)`,
        ),
        evidence: [
          ...fresh.flatMap((d) => seriesEvidence(d.series.slice(0, 1))),
          ...pointEvidence(p).slice(0, 2),
        ],
      });
    }
    return out;
  },
};

const gpusWaiting: Playbook = {
  id: 'gpus-waiting',
  title: 'Throughput dropped and the GPUs are idle',
  interpretation:
    'The GPUs are waiting: work does not reach them fast enough, so the bottleneck is before the GPU.',
  check_next: [
    'CPU throttling of the serving pod (cAdvisor cfs throttled periods)',
    'tokenisation or preprocessing saturation in the server',
    'storage throughput and network stalls',
    'a cached-input or microbenchmark rerun to isolate the model code from the input path',
  ],
  judge(run) {
    if (!run.compare) return [];
    const out: Draft[] = [];
    for (const p of run.points) {
      const drop = throughputChange(p);
      if (drop === null || drop > -0.1 || p.baselineTelemetry === null) continue;
      const util = familyMean(p.telemetry, 'gpu_utilization');
      const utilBase = familyMean(p.baselineTelemetry, 'gpu_utilization');
      if (util === null || utilBase === null || util >= 0.6 || util > utilBase * 0.8) continue;
      const throttled = familyMean(p.telemetry, 'cpu_throttled_periods');
      const throttledBase = familyMean(p.baselineTelemetry, 'cpu_throttled_periods');
      out.push({
        severity: 'high',
        points: [at(p)],
        facts: [
          `output throughput ${fmt(p.baseline?.output_throughput_tokens_per_s ?? null, 0)} → ${fmt(p.current.output_throughput_tokens_per_s, 0)} tokens/s (${pct(drop)})`,
          `GPU utilisation ${fmt(utilBase * 100, 0)}% → ${fmt(util * 100, 0)}% (mean)`,
          ...(throttled !== null
            ? [`CPU throttled periods ${fmt(throttledBase, 2)} → ${fmt(throttled, 2)} per s`]
            : []),
        ],
        evidence: pointEvidence(p, ['gpu_utilization', 'cpu_throttled_periods']),
      });
    }
    return out;
  },
};

/** The knees of the closed-loop points (knee.ts). */
function pointKnees(points: PointRow[]): { scenario: string; knee: PointRow; next: PointRow }[] {
  const levels = points
    .filter((p) => p.mode === 'concurrency' && p.concurrency !== null)
    .map((p) => ({
      scenario: p.scenario,
      concurrency: p.concurrency as number,
      output_throughput_tokens_per_s: p.output_throughput_tokens_per_s,
      ttft_p50_ms: p.latency['ttft_ms.p50'] ?? null,
      point: p,
    }));
  return knees(levels).map((k) => ({ scenario: k.scenario, knee: k.knee.point, next: k.next.point }));
}

/** The server's queue and cache at a point, where scraped: what a knee is made of. */
function queueSeries(p: JudgedPoint): ScopedSeries[] {
  return p.telemetry.filter(
    (s) => s.scope === 'server' && (s.family === 'requests_waiting' || s.family === 'kv_cache_usage'),
  );
}

const saturationKnee: Playbook = {
  id: 'saturation-knee',
  title: 'Past the saturation knee',
  interpretation: 'Saturation: beyond this load the server adds queueing, not throughput.',
  check_next: [
    'serve at or below the knee, or add capacity (replicas, larger batch limits)',
    'requests waiting and KV-cache usage at the levels past the knee',
    'whether the knee moved against the baseline (a capacity regression)',
  ],
  judge(run) {
    const current = pointKnees(run.points.map((p) => p.current));
    const before = run.compare
      ? pointKnees(run.points.filter((p) => p.baseline !== null).map((p) => p.baseline as PointRow))
      : [];
    const out: Draft[] = [];
    for (const k of current) {
      const b = before.find((x) => x.scenario === k.scenario);
      // Compared: only a knee that appeared or came earlier.
      if (run.compare && b !== undefined && (b.knee.concurrency as number) <= (k.knee.concurrency as number))
        continue;
      const p = run.points.find((x) => x.current === k.next);
      out.push({
        severity: run.compare ? 'high' : 'low',
        points: [`${k.scenario}@${k.knee.point}`, `${k.scenario}@${k.next.point}`],
        facts: [
          `concurrency ${k.knee.concurrency} → ${k.next.concurrency}: output throughput ${fmt(k.knee.output_throughput_tokens_per_s, 0)} → ${fmt(k.next.output_throughput_tokens_per_s, 0)} tokens/s`,
          `TTFT p50 ${fmt(k.knee.latency['ttft_ms.p50'] ?? null)} → ${fmt(k.next.latency['ttft_ms.p50'] ?? null)} ms`,
          ...(p
            ? queueSeries(p).map(
                (q) => `${q.family} past the knee: mean ${fmt(q.mean, 2)}, max ${fmt(q.max, 2)} ${q.unit}`,
              )
            : []),
          ...(b ? [`baseline knee at concurrency ${b.knee.concurrency}`] : []),
        ],
        evidence: p ? [...pointEvidence(p).slice(0, 2), ...seriesEvidence(queueSeries(p))] : [],
      });
    }
    return out;
  },
};

/** Client queueing p99 (open loop) past this is the client's or the schedule's doing. */
const CLIENT_QUEUE_LIMIT_MS = 50;

const clientLimited: Playbook = {
  id: 'client-limited',
  title: 'The client was at its limit',
  interpretation:
    'Client-side limit: the load generator itself delayed requests, so part of the change is not the server’s.',
  check_next: [
    'the run’s event-loop delay (run.json, summary flags) and the host’s CPU',
    'split the run over more workers (--workers N) or pods',
    'connection-pool waits (pool_wait_ms) in request_fact',
  ],
  judge(run) {
    const out: Draft[] = [];
    for (const p of run.points) {
      // Compared: only where something changed, which the client may then explain.
      if (run.compare && !worse(p)) continue;
      // The event-loop flag (p99 past 2 ms) explains a change; alone, in one run, it is the
      // run's own warning (its first iteration warms the JIT), already in its summary table.
      const flagged = run.compare && p.current.event_loop_flag && !(p.baseline?.event_loop_flag ?? false);
      const queue = p.diagnosis.decomposition.current.client_queue_ms;
      const queueBase = p.diagnosis.decomposition.baseline?.client_queue_ms ?? null;
      const queued =
        queue !== null &&
        queue >= CLIENT_QUEUE_LIMIT_MS &&
        (queueBase === null ? !run.compare : queue >= 2 * queueBase + 5);
      if (!flagged && !queued) continue;
      out.push({
        severity: 'medium',
        points: [at(p)],
        facts: [
          ...(flagged ? ['the client’s event-loop monitor flagged this iteration'] : []),
          ...(queue !== null
            ? [`client queue (sent − scheduled) mean ${fmt(queueBase)} → ${fmt(queue)} ms`]
            : []),
        ],
        evidence: pointEvidence(p),
      });
    }
    return out;
  },
};

/** Every playbook, in the order findings are listed. */
export const PLAYBOOKS: readonly Playbook[] = [
  tailAmplification,
  serverQueue,
  kvCachePressure,
  gpuThrottling,
  straggler,
  gpusWaiting,
  saturationKnee,
  clientLimited,
];

/** The findings of every playbook that fired. */
export function firePlaybooks(run: RunEvidence): Finding[] {
  return PLAYBOOKS.flatMap((playbook) =>
    playbook.judge(run).map((draft) => ({
      playbook: playbook.id,
      title: playbook.title,
      interpretation: playbook.interpretation,
      check_next: playbook.check_next,
      ...draft,
    })),
  );
}
