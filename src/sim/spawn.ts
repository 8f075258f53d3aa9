/**
 * Runs the simulator in its own Node process, so a test's or benchmark's client
 * does not share a CPU thread (and an event loop) with the server it measures.
 * The child is killed on close() and when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InfermarkError } from '../base/errors.js';
import { resolveSimulatorOptions, type SimulatorOptions } from './options.js';
import type { SimulatorStats } from './server.js';
import { fetchWriteLog, type WriteLogSnapshot } from './write-log.js';

/** A simulator running in a child process. */
export interface SpawnedSimulator {
  url: string;
  port: number;
  /** The child's process id. */
  pid: number;
  /** The child's counters, fetched over IPC. */
  stats(): Promise<SimulatorStats>;
  /** What the child wrote when, per request (it must run with `writeLogRequests` > 0). */
  writeLog(): Promise<WriteLogSnapshot>;
  /** SIGTERM the child (SIGKILL after 2 s) and wait for it to exit. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const KILL_AFTER_MS = 2_000;

/**
 * Start a simulator in a child Node process and resolve when it listens.
 * Options are validated here first, so bad ones throw ValidationError in the caller.
 */
export async function spawnSimulator(options: Partial<SimulatorOptions> = {}): Promise<SpawnedSimulator> {
  resolveSimulatorOptions(options);
  const entry = fileURLToPath(new URL('./child.js', import.meta.url));
  const child = spawn(process.execPath, [entry, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const forget = (): void => {
    process.removeListener('exit', killOnExit);
  };
  child.once('exit', forget);

  let ready: { port: number; url: string };
  try {
    ready = await readReadyLine(child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  // Nothing else is read from stdout; keep it flowing so the child never blocks on it.
  child.stdout?.resume();

  let nextId = 0;
  return {
    url: ready.url,
    port: ready.port,
    pid: child.pid ?? -1,
    stats: () =>
      new Promise<SimulatorStats>((resolve, reject) => {
        const id = ++nextId;
        const onMessage = (message: unknown): void => {
          const m = message as { type?: string; id?: number; stats?: SimulatorStats };
          if (m?.type !== 'stats' || m.id !== id) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m.stats as SimulatorStats);
        };
        const onExit = (): void => {
          child.off('message', onMessage);
          reject(new InfermarkError('E_SIM_EXITED', 'simulator child process has exited'));
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ type: 'stats', id });
      }),
    writeLog: () => fetchWriteLog(ready.url),
    close: () => stopChild(child),
  };
}

function readReadyLine(child: ChildProcess): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () =>
        fail(
          new InfermarkError('E_SIM_START', `simulator child did not start within ${START_TIMEOUT_MS} ms`),
        ),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      cleanup();
      try {
        const line = JSON.parse(buffered.slice(0, newline)) as { port: number; url: string };
        resolve(line);
      } catch {
        reject(
          new InfermarkError(
            'E_SIM_START',
            `unexpected output from simulator child: ${buffered.slice(0, 200)}`,
          ),
        );
      }
    };
    const onExit = (code: number | null): void =>
      fail(new InfermarkError('E_SIM_START', `simulator child exited with code ${code} before listening`));
    function fail(error: Error): void {
      cleanup();
      reject(error);
    }
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
