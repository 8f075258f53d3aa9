/**
 * Workers as local processes: `infermark shard` children of this process, one per
 * shard, so one machine uses all its cores. Each child is its own process group: a
 * Ctrl-C at the terminal reaches the coordinator, which passes it on once. Each child's
 * stdin is a pipe from this process: when this process dies, however it dies, the pipe
 * closes and the worker ends its iteration and seals instead of loading the server for
 * nobody. The coordinator's token goes in the child's environment; stderr is kept (its
 * last lines say why a worker failed).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COORDINATOR_TOKEN_ENV } from '../engine/shard-protocol.js';
import type { WorkerExit, WorkerHandle, WorkerLauncher, WorkerSpec } from '../engine/worker-launcher.js';

/** What is kept of a worker's stderr: its last words, not its whole life. */
const STDERR_KEEP_BYTES = 8 * 1024;

/** The CLI's own entry point: a worker is `node main.js shard ...`, whichever file started this process. */
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export const localWorkers: WorkerLauncher = {
  launch(spec: WorkerSpec): WorkerHandle {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'shard',
        '--coordinator',
        spec.coordinatorUrl,
        '--shard',
        String(spec.index),
        '--stop-with-parent',
      ],
      {
        env: { ...process.env, [COORDINATOR_TOKEN_ENV]: spec.token },
        // stdin: a pipe held by this process; when it dies, the worker reads its end and stops.
        stdio: ['pipe', 'ignore', 'pipe'],
        detached: true,
      },
    );
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      tail = (tail + text).slice(-STDERR_KEEP_BYTES);
    });
    const exited = new Promise<WorkerExit>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, lastWords: error.message }));
      child.once('close', (code, signal) => resolve({ code, signal, lastWords: tail }));
    });
    return {
      label: `pid ${child.pid ?? '?'}`,
      exited,
      kill(signal) {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  },
};
