/**
 * The run folder as an output: run.json (written when the run opens, before the server is
 * probed, and rewritten whole when it starts), each iteration's requests.jsonl appended
 * as records finish, each telemetry target scraped into it while the load runs, its
 * workload.json and summary.json, the iteration sealed before the next one starts, and
 * the run's summary.json and seal at the end (docs/run-folder.md).
 */
import { sealIteration, sealRun } from '../../evidence/manifest.js';
import { RunFolder, type LineWriter } from '../../evidence/run-folder.js';
import { measuredWindowUs } from '../../metrics/measured-window.js';
import type { RequestRecord } from '../../metrics/record.js';
import type { IterationPlan } from '../../plan/plan.js';
import { IterationScrapes } from '../../telemetry/iteration-scrapes.js';
import type {
  IterationEnd,
  IterationStart,
  PlanGrowth,
  RunEnd,
  RunOpening,
  RunOutput,
  RunSeal,
  RunStart,
} from './output.js';

/** What an iteration holds open while its load runs. */
interface OpenIteration {
  dir: string;
  scrapes: IterationScrapes | null;
  lines: LineWriter | null;
}

export class RunFolderOutput implements RunOutput {
  readonly name = 'run-folder';
  private folder: RunFolder | null = null;
  private runId = '';
  private iteration: OpenIteration | null = null;
  /** The plan grows: run.json changes after iterations are sealed, so only the run's seal covers it. */
  private growing = false;

  async open(run: RunOpening): Promise<void> {
    this.runId = run.runId;
    this.folder = await RunFolder.create(run.dir);
    // Written before the probes, which wait on the server: a run killed while they
    // wait has its run.json (verify: PARTIAL, not CORRUPT).
    await this.folder.writeJson('run.json', run.document);
  }

  async start(run: RunStart): Promise<void> {
    this.growing = run.growing === true;
    await this.opened().writeJson('run.json', run.document);
  }

  async planGrown({ document }: PlanGrowth): Promise<void> {
    await this.opened().writeJson('run.json', document);
  }

  async startIteration({ plan, scrapes, signal }: IterationStart): Promise<void> {
    const folder = this.opened();
    const dir = RunFolder.iterationDir(plan.index);
    const iteration: OpenIteration = { dir, scrapes: null, lines: null };
    this.iteration = iteration;
    // Scraped on a timer while the load runs: gauges read after the drain are all 0.
    try {
      iteration.scrapes = await IterationScrapes.start({
        scrapes,
        folder,
        dir,
        maxTimeS: plan.max_time_s,
        ...(signal ? { signal } : {}),
      });
      iteration.lines = await folder.openLines(`${dir}/requests.jsonl`);
    } catch (error) {
      await this.release([]);
      throw error;
    }
  }

  addRecord(_plan: IterationPlan, record: RequestRecord): void {
    this.iteration?.lines?.write(record);
  }

  async endIteration({ plan, records, completed }: IterationEnd): Promise<void> {
    const { dir } = this.iteration ?? { dir: RunFolder.iterationDir(plan.index) };
    await this.release(records);
    if (!completed) return;
    const folder = this.opened();
    await folder.writeJson(`${dir}/workload.json`, completed.workload);
    await folder.writeJson(`${dir}/summary.json`, completed.summary);
    // Sealed before the next iteration starts: a run killed later keeps this one verifiable.
    await sealIteration(folder, this.runId, plan.index, { runJson: !this.growing });
  }

  async stop(run: RunEnd): Promise<RunSeal> {
    const folder = this.opened();
    for (const [name, document] of Object.entries(run.documents ?? {}))
      await folder.writeJson(name, document);
    await folder.writeJson('summary.json', run.summary);
    return { artifactManifestDigest: await sealRun(folder, run.runId, run.status) };
  }

  async fail(): Promise<void> {
    await this.release([]);
  }

  /** Closes the records and stops the scrapers, whatever fails: a write error surfaces here (disk full). */
  private async release(records: readonly RequestRecord[]): Promise<void> {
    const iteration = this.iteration;
    this.iteration = null;
    if (!iteration) return;
    const closed = await Promise.allSettled([iteration.lines?.close()]);
    const window = measuredWindowUs(records);
    const stopped = await Promise.allSettled([iteration.scrapes?.stop(window)]);
    // The records' error first: it says which file of the evidence is short.
    const failed = [...closed, ...stopped].find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private opened(): RunFolder {
    if (!this.folder) throw new Error('run-folder output: the run is not open');
    return this.folder;
  }
}
