/**
 * `infermark shard` as a process started by someone other than its coordinator (a shard
 * pod): its token in its environment, bounded in time, its stderr kept for the assertion.
 */
import { spawn } from 'node:child_process';
import { COORDINATOR_TOKEN_ENV } from '../../engine/shard-protocol.js';
import { MAIN, ROOT } from './harness.js';

export function shardProcess(
  url: string,
  index: number,
  token: string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'shard', '--coordinator', url, '--shard', String(index)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...(options.env ?? process.env), [COORDINATOR_TOKEN_ENV]: token },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
