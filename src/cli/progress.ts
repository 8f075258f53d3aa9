/**
 * The live view of a run on stderr: one redrawn line per iteration while it runs
 * (only when stderr is a terminal, as autocannon does), and one line per finished
 * iteration so logs show progress too.
 */
import { scrubText } from '../base/redact.js';
import type { ProgressSnapshot } from '../metrics/run-events.js';
import { iterationLabel, type IterationPlan } from '../plan/plan.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';

const BAR_WIDTH = 24;

export class ProgressView {
  private readonly live: boolean;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.live = !quiet && stream.isTTY === true;
  }

  update(plan: IterationPlan, total: number, snapshot: ProgressSnapshot): void {
    if (!this.live) return;
    const fraction = Math.min(
      1,
      Math.max(snapshot.measured_done / snapshot.max_requests, snapshot.elapsed_s / snapshot.max_time_s),
    );
    const filled = Math.round(fraction * BAR_WIDTH);
    const rate = snapshot.elapsed_s > 0 ? snapshot.done / snapshot.elapsed_s : 0;
    const etaS = fraction > 0 ? (snapshot.elapsed_s / fraction) * (1 - fraction) : NaN;
    const line =
      `[${plan.index + 1}/${total}] ${iterationLabel(plan)} ` +
      `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ` +
      `${snapshot.measured_done}/${snapshot.max_requests} req  ${rate.toFixed(1)} req/s  ` +
      `in flight ${snapshot.in_flight}  err ${snapshot.errors}  ETA ${Number.isFinite(etaS) ? `${etaS.toFixed(0)}s` : '?'}`;
    this.stream.write(`\r\x1b[2K${line.slice(0, (this.stream.columns ?? 120) - 1)}`);
    this.drawn = true;
  }

  done(plan: IterationPlan, total: number, summary: IterationSummary): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
    if (this.quiet) return;
    const { requests } = summary;
    const ttft = summary.distributions.ttft_ms.p50;
    this.stream.write(
      `[${plan.index + 1}/${total}] ${iterationLabel(plan)}: ${requests.completed} ok, ${requests.errored} errors` +
        `${requests.cancelled ? `, ${requests.cancelled} cancelled` : ''}` +
        `, ${fmt(summary.request_throughput_rps)} req/s, ${fmt(summary.output_throughput_tokens_per_s)} tok/s` +
        `, TTFT p50 ${fmt(ttft)} ms (${summary.ended_by.replace('_', ' ')})\n`,
    );
  }

  notice(message: string): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
    // Notices quote URLs and server replies: scrubbed like everything else that is printed.
    if (!this.quiet) this.stream.write(`${scrubText(message)}\n`);
  }
}

function fmt(value: number | null): string {
  if (value === null) return '—';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}
