/**
 * `infermark demo`: start the simulator on loopback in its own process, run
 * examples/demo.yaml against it, print the SLOs it checks, the summary and the run
 * folder, then the commands a newcomer would try next on that folder.
 */
import { fileURLToPath } from 'node:url';
import { spawnSimulator } from '../sim/spawn.js';
import { loadJobFile } from '../spec/load-job.js';
import type { DemoFlags } from './run-flags.js';
import { runAndReport } from './run.js';

/** A small, fast model: the demo finishes in well under a minute. */
export const DEMO_SIMULATOR = {
  ttftMs: 40,
  ttftPerInputTokenMs: 0.02,
  itlMs: 4,
  itlJitterMs: 1,
  capacity: 8,
  batchSlowdown: 0.5,
  seed: 42,
} as const;

export function demoJobPath(): string {
  return fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
}

/** The SLOs the demo checks, said before it starts, so the table's SLO lines are expected. */
export function demoSloLine(slos: readonly string[]): string {
  return slos.length === 0
    ? 'SLOs: none in examples/demo.yaml (add spec.slos to see them checked)'
    : `SLOs (examples/demo.yaml spec.slos): ${slos.join(', ')}; each is checked at its percentile (met / not met under the table) and per request (goodput)`;
}

export async function demoCommand(flags: DemoFlags): Promise<number> {
  const jobFile = demoJobPath();
  // Validated before the simulator starts, and only once.
  const job = await loadJobFile(jobFile);
  const simulator = await spawnSimulator(DEMO_SIMULATOR);
  // The simulator's GPU, node and cluster exporters, scraped as a deployment's would be
  // (docs/telemetry.md); their port is the simulator's, known only now.
  const origin = new URL(simulator.url).origin;
  job.spec.telemetry ??= demoTelemetry(origin);
  let runDir: string | undefined;
  let code: number;
  try {
    if (!flags.quiet && !flags.json) {
      process.stderr.write(`simulator listening on ${simulator.url}\n`);
      process.stderr.write(`${demoSloLine(job.spec.slos ?? [])}\n`);
    }
    code = await runAndReport(job, jobFile, { ...flags, url: simulator.url }, (last) => (runDir = last.dir));
  } finally {
    await simulator.close();
  }
  if (code === 0 && runDir !== undefined && !flags.json && !flags.quiet) {
    process.stdout.write(nextCommands(runDir, flags.warehouse));
  }
  return code;
}

/** The simulator's exporters as the demo's telemetry targets. */
export function demoTelemetry(origin: string): { url: string; role: 'gpu' | 'node' | 'cluster' }[] {
  return [
    { url: `${origin}/sim/dcgm`, role: 'gpu' },
    { url: `${origin}/sim/nodes/sim-node-0/node-exporter`, role: 'node' },
    { url: `${origin}/sim/cluster`, role: 'cluster' },
  ];
}

/**
 * What to try after the demo, on its own run folder; `warehouse` as the demo was
 * given it (a path, false for --no-warehouse, undefined for the default).
 */
export function nextCommands(runDir: string, warehouse: string | false | undefined): string {
  const dir = shellArg(runDir);
  const where = typeof warehouse === 'string' ? ` --warehouse ${shellArg(warehouse)}` : '';
  const lines: [string, string][] = [];
  if (warehouse === false) {
    lines.push([
      `npx infermark warehouse ingest ${dir}`,
      'the run into the warehouse (--no-warehouse skipped it)',
    ]);
  }
  lines.push(
    [`npx infermark report ${dir}${where} -o report.html`, 'this run as one offline HTML page'],
    [`npx infermark report ${dir}${where} --format md -o -`, 'the same in Markdown, for a pull request'],
    [`npx infermark diagnose ${dir}${where}`, 'what the run shows: the saturation knee, with its evidence'],
    [`npx infermark warehouse runs${where}`, 'every run in the warehouse'],
    [`npx infermark warehouse named serving_points${where}`, 'every point of every run'],
    [`npx infermark serve${where}`, 'the dashboard on http://127.0.0.1:8080'],
    [`npx infermark verify ${dir}`, "check the run folder's digests"],
    [`npx infermark run --url http://127.0.0.1:8000 --model MODEL`, 'the same against your own endpoint'],
  );
  const width = Math.max(...lines.map(([command]) => command.length));
  return `\nnext:\n${lines.map(([command, what]) => `  ${command.padEnd(width)}  # ${what}\n`).join('')}`;
}

/** A path as a POSIX shell reads it back: quoted only when it must be. */
export function shellArg(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
