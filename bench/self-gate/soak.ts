/**
 * The self-gate's accelerated soak: a long stream of request records through the
 * append-only sink (the run folder's records writer, via `executeRun` against the
 * simulator at zero delay), with rollover and retention, watching the client's RSS.
 *
 * A segment is one sealed run folder of at most `rolloverRecords` records (one
 * iteration, one requests.jsonl). Segments are whole run folders because a sealed
 * folder cannot lose an iteration without breaking its manifest; pruning whole
 * folders keeps every retained segment verifiable, and the soak verifies them at
 * the end. Rollover: when a segment is full the next one starts (a new run folder).
 * Retention: after each segment, the oldest segments are deleted while more than
 * `retentionMaxSegments` are kept or they hold more than `retentionMaxBytes`
 * (the newest is never deleted).
 *
 * "24h-equivalent": the records a 24-hour run at `referenceRps` writes
 * (referenceRps × 86,400), driven without waiting, as fast as the client and the
 * simulator go. RSS growth is normalized to it linearly: the least-squares slope of
 * RSS against records written (bytes per record, over the readings at each rollover
 * from the baseline on) × the records of a 24h-equivalent. The baseline is the
 * reading after the first segment (code warm, heap sized for a segment); every
 * reading is taken after a forced GC. A slope over all readings, rather than end
 * minus baseline, keeps one noisy reading from being multiplied into the verdict.
 */
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { executeRun } from '../../src/engine/run.js';
import { verifyRunFolder } from '../../src/evidence/verify.js';
import { spawnSimulator } from '../../src/sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../../src/spec/load-job.js';

export const SECONDS_PER_DAY = 86_400;

export interface SoakConfig {
  /** The request rate a 24h-equivalent is counted at: referenceRps × 86,400 records. */
  referenceRps: number;
  /** Records to drive (the profile's share of a 24h-equivalent, or all of it). */
  records: number;
  /** No new segment starts after this many seconds; the records written by then count. */
  maxSeconds: number;
  concurrency: number;
  inputTokens: number;
  outputTokens: number;
  /** Records per segment (run folder) before rollover to the next. */
  rolloverRecords: number;
  retentionMaxSegments: number;
  retentionMaxBytes: number;
  /** Interval of the RSS sampler that finds the peak between rollovers. */
  rssSampleMs: number;
}

export interface SoakResult {
  records_written: number;
  records_24h_equiv: number;
  /** Records written ÷ the reference rate, in hours: how much of a 24-hour run this was. */
  equivalent_hours: number;
  errored_records: number;
  wall_s: number;
  records_per_s: number;
  segments_written: number;
  rollover_count: number;
  pruned_segment_count: number;
  pruned_bytes: number;
  written_bytes: number;
  final_retained_segments: number;
  final_retained_files: number;
  final_retained_bytes: number;
  /** Retained segments that do not verify as complete, sealed runs (pruning must never break one). */
  unverified_segments: number;
  rss: {
    before_soak_bytes: number;
    /** After the first segment and a GC: what growth is measured from. */
    baseline_bytes: number;
    end_bytes: number;
    max_bytes: number;
    /** Peak RSS seen after the baseline, minus the baseline. */
    max_delta_bytes: number;
    /** End − baseline. */
    growth_bytes: number;
    records_after_baseline: number;
    /** Least-squares bytes per record × records of a 24h-equivalent. */
    growth_per_24h_equiv_bytes: number;
    heap_used_baseline_bytes: number;
    heap_used_end_bytes: number;
    heap_growth_per_24h_equiv_bytes: number;
  };
  /** At each rollover, after a GC. */
  samples: { records: number; rss_bytes: number; heap_used_bytes: number; retained_bytes: number }[];
}

interface Segment {
  dir: string;
  files: number;
  bytes: number;
}

/**
 * A forced full GC (V8's; exposed at runtime unless node ran with --expose-gc), so an
 * RSS reading is not whatever garbage happens to be pending.
 */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function folderSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = await folderSize(path);
      files += inner.files;
      bytes += inner.bytes;
    } else if (entry.isFile()) {
      files++;
      bytes += (await lstat(path)).size;
    }
  }
  return { files, bytes };
}

export async function runSoak(
  config: SoakConfig,
  log: (line: string) => void = () => {},
): Promise<SoakResult> {
  const gc = gcFunction();
  const sim = await spawnSimulator({
    ttftMs: 0,
    ttftPerInputTokenMs: 0,
    itlMs: 0,
    itlJitterMs: 0,
    capacity: 100_000,
    eosProbability: 0,
  });
  const root = await mkdtemp(join(tmpdir(), 'infermark-self-gate-soak-'));
  const retained: Segment[] = [];
  const samples: SoakResult['samples'] = [];
  let written = 0;
  let errored = 0;
  let segmentsWritten = 0;
  let pruned = 0;
  let prunedBytes = 0;
  let writtenBytes = 0;
  let maxRss = 0;
  let baseline: { rss: number; heap: number; records: number } | null = null;
  gc();
  const beforeSoak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    if (baseline) maxRss = Math.max(maxRss, process.memoryUsage.rss());
  }, config.rssSampleMs);
  sampler.unref();
  const t0 = performance.now();
  try {
    while (
      written < config.records &&
      (segmentsWritten === 0 || performance.now() - t0 < config.maxSeconds * 1000)
    ) {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        name: 'self-gate-soak',
        scenarios: [`D(${config.inputTokens},${config.outputTokens})`],
        concurrency: [config.concurrency],
        maxRequests: Math.min(config.rolloverRecords, config.records - written),
        maxTimeMinutes: 10,
        seed: 1 + segmentsWritten,
      });
      const result = await executeRun({
        job,
        jobFile: null,
        endpoint: resolveEndpoint(job, {}),
        outRoot: root,
        events: {
          onRecord: (_plan, record) => {
            written++;
            if (record.status !== 'ok') errored++;
          },
        },
      });
      segmentsWritten++;
      const size = await folderSize(result.dir);
      writtenBytes += size.bytes;
      retained.push({ dir: result.dir, ...size });
      // Retention: oldest first, never the segment just written.
      while (
        retained.length > 1 &&
        (retained.length > config.retentionMaxSegments || sum(retained, 'bytes') > config.retentionMaxBytes)
      ) {
        const oldest = retained.shift() as Segment;
        await rm(oldest.dir, { recursive: true, force: true });
        pruned++;
        prunedBytes += oldest.bytes;
      }
      gc();
      const memory = process.memoryUsage();
      samples.push({
        records: written,
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        retained_bytes: sum(retained, 'bytes'),
      });
      if (!baseline) {
        baseline = { rss: memory.rss, heap: memory.heapUsed, records: written };
        maxRss = memory.rss;
      }
      maxRss = Math.max(maxRss, memory.rss);
      log(
        `soak: ${written.toLocaleString('en-US')} records, ${segmentsWritten} segments (${retained.length} kept, ${pruned} pruned), RSS ${mib(memory.rss)}`,
      );
    }
  } finally {
    clearInterval(sampler);
    await sim.close();
  }
  const wallS = (performance.now() - t0) / 1000;
  let unverified = 0;
  for (const segment of retained) {
    if ((await verifyRunFolder(segment.dir)).status !== 'complete') unverified++;
  }
  // What is on disk now, counted from the disk rather than from the bookkeeping.
  const onDisk = await folderSize(root);
  await rm(root, { recursive: true, force: true });

  const base = baseline as { rss: number; heap: number; records: number };
  const last = samples[samples.length - 1] as SoakResult['samples'][number];
  const records24h = config.referenceRps * SECONDS_PER_DAY;
  const afterBaseline = written - base.records;
  const fromBaseline = samples.filter((sample) => sample.records >= base.records);
  const perRecord = (field: 'rss_bytes' | 'heap_used_bytes'): number =>
    slope(fromBaseline.map((sample) => [sample.records, sample[field]]));
  return {
    records_written: written,
    records_24h_equiv: records24h,
    equivalent_hours: written / config.referenceRps / 3600,
    errored_records: errored,
    wall_s: wallS,
    records_per_s: written / wallS,
    segments_written: segmentsWritten,
    rollover_count: Math.max(0, segmentsWritten - 1),
    pruned_segment_count: pruned,
    pruned_bytes: prunedBytes,
    written_bytes: writtenBytes,
    final_retained_segments: retained.length,
    final_retained_files: onDisk.files,
    final_retained_bytes: onDisk.bytes,
    unverified_segments: unverified,
    rss: {
      before_soak_bytes: beforeSoak,
      baseline_bytes: base.rss,
      end_bytes: last.rss_bytes,
      max_bytes: maxRss,
      max_delta_bytes: maxRss - base.rss,
      growth_bytes: last.rss_bytes - base.rss,
      records_after_baseline: afterBaseline,
      growth_per_24h_equiv_bytes: perRecord('rss_bytes') * records24h,
      heap_used_baseline_bytes: base.heap,
      heap_used_end_bytes: last.heap_used_bytes,
      heap_growth_per_24h_equiv_bytes: perRecord('heap_used_bytes') * records24h,
    },
    samples,
  };
}

/** Least-squares slope of y on x; NaN under two distinct x (nothing to extrapolate from). */
export function slope(points: [number, number][]): number {
  const n = points.length;
  const meanX = points.reduce((t, [x]) => t + x, 0) / n;
  const meanY = points.reduce((t, [, y]) => t + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
  }
  return sxx > 0 ? sxy / sxx : Number.NaN;
}

function sum(segments: Segment[], field: 'bytes' | 'files'): number {
  return segments.reduce((total, s) => total + s[field], 0);
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
