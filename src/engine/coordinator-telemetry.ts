/**
 * A split run's telemetry, scraped by its coordinator (docs/shards.md): the shards' load
 * is one run's load, so the server's /metrics and every spec.telemetry target are scraped
 * once, here, on the coordinator's clock, not once per shard. The targets are probed before
 * any worker asks for its job (the answer tells each shard which answered, and not to scrape);
 * each iteration is scraped into the run folder's own `iterations/NNN/telemetry/` as a
 * single process scrapes its iteration: start samples before the common start instant, on a
 * timer while the shards run, end samples once every shard is done, then the index with the
 * merged records' measured window. The merge keeps these files (engine/merge-run.ts).
 */
import { takeAnchor } from '../base/clock.js';
import { RunFolder } from '../evidence/run-folder.js';
import type { IterationPlan } from '../plan/plan.js';
import { IterationScrapes, type ScrapeTarget } from '../telemetry/iteration-scrapes.js';
import type { ScrapeIndex } from '../telemetry/scrape-files.js';
import type { RunInputs } from './run.js';
import { probeNotices, probeTelemetry, runTelemetryTargets, scrapeTargets } from './run-telemetry.js';

export class CoordinatorTelemetry {
  /** The iteration being scraped, from its start samples to its index. */
  private open: IterationScrapes | null = null;
  /** Made at the first iteration: a run none of whose workers started writes no folder of its own. */
  private folder: RunFolder | null = null;

  private constructor(
    private readonly dir: string,
    private readonly scrapes: readonly ScrapeTarget[],
    /** One per target, in run.json's order: whether it answered the probe (so is scraped). */
    readonly answered: readonly boolean[],
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Probes every target of the job once (the user is told of each that does not answer). */
  static async open(inputs: RunInputs, dir: string): Promise<CoordinatorTelemetry> {
    const { job, endpoint, apiKey, signal } = inputs;
    const authHeaders: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    const targets = runTelemetryTargets(job.spec, endpoint, authHeaders);
    const probes = await probeTelemetry(targets, signal);
    for (const message of probeNotices(targets, probes)) inputs.events?.onNotice?.(message);
    const scrapes = scrapeTargets(targets, probes, job.spec, takeAnchor());
    return new CoordinatorTelemetry(
      dir,
      scrapes,
      probes.map((p) => p.ok),
      signal,
    );
  }

  /** Takes the iteration's start samples (before its start instant is given) and starts the timers. */
  async startIteration(plan: IterationPlan): Promise<void> {
    await this.stopIteration(null);
    this.folder ??= await RunFolder.create(this.dir);
    this.open = await IterationScrapes.start({
      scrapes: this.scrapes,
      folder: this.folder,
      dir: RunFolder.iterationDir(plan.index),
      maxTimeS: plan.max_time_s,
      ...(this.signal ? { signal: this.signal } : {}),
    });
  }

  /** Every shard is done with the iteration (or the run stops): the end samples now, once. */
  async endIteration(): Promise<void> {
    await this.open?.end();
  }

  /** Writes each target's index with the merged records' window (null when the merge is to set it). */
  async stopIteration(window: ScrapeIndex['measured_window_us']): Promise<void> {
    const open = this.open;
    this.open = null;
    await open?.stop(window);
  }
}
