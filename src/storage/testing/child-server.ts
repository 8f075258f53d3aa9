/**
 * A test server (s3rver, azurite) run as a child process of this Node: nothing of
 * it stays in the test's process (no timer, socket or exception handler to keep
 * `node --test` from ending), and a test can take it down mid-request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ChildServer {
  child: ChildProcess;
  /** The port it listens on (the one the OS gave, when asked for port 0). */
  port: number;
}

/**
 * Runs `node <args>` in `cwd` and waits for a line of its output that matches
 * `ready`, whose first group is the port.
 */
export async function spawnServer(
  name: string,
  args: string[],
  cwd: string,
  ready: RegExp,
): Promise<ChildServer> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    return { child, port: await readyPort(name, child, ready) };
  } catch (error) {
    await terminate(child);
    throw error;
  }
}

function readyPort(name: string, child: ChildProcess, ready: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const port = ready.exec(output)?.[1];
      if (port !== undefined) settle(() => resolve(Number(port)));
    };
    const onExit = (code: number | null): void =>
      settle(() => reject(new Error(`${name} exited (${code}) before listening:\n${output}`)));
    const timer = setTimeout(
      () =>
        settle(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms:\n${output}`))),
      START_TIMEOUT_MS,
    );
    const settle = (done: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining: a server that logs into a full pipe would block.
      child.stdout?.resume();
      child.stderr?.resume();
      done();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it is still there after a few seconds; resolves once it has exited. */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
