// The stop wait in a child process of its own: a real SIGINT or SIGTERM ends the wait, and the listeners go with it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const MODULE = new URL('./stop-signal.js', import.meta.url).href;

const CHILD = `
import { untilStopSignal } from ${JSON.stringify(MODULE)};
// A signal listener holds no handle: the timer keeps the child alive, as a listening server would.
const alive = setInterval(() => undefined, 60_000);
const stopped = untilStopSignal();
process.stdout.write('waiting\\n');
const signal = await stopped;
clearInterval(alive);
process.stdout.write(signal + ' ' + process.listenerCount('SIGINT') + ' ' + process.listenerCount('SIGTERM') + '\\n');
`;

/** Starts the child, sends `signal` once it waits, and returns what it printed and how it ended. */
function stopChild(signal: NodeJS.Signals): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout === 'waiting\n') child.kill(signal);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, code });
    });
  });
}

describe('untilStopSignal', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} ends the wait and removes both listeners`, async () => {
      const { stdout, code } = await stopChild(signal);
      assert.equal(stdout, `waiting\n${signal} 0 0\n`);
      assert.equal(code, 0);
    });
  }
});
