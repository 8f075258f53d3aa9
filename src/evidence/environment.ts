/**
 * What the run ran on: software versions and the client host, captured once per
 * run into run.json (the numbers mean little without it).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';

export interface ClientEnvironment {
  infermark_version: string;
  node_version: string;
  os: { platform: string; release: string; arch: string };
  host: { cpu_model: string; cores: number; memory_bytes: number };
  gpus: { name: string; memory_mib: number }[];
}

/** The version in package.json (two levels above dist/src/evidence). */
export function infermarkVersion(): string {
  try {
    const url = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function captureEnvironment(): Promise<ClientEnvironment> {
  const cpus = os.cpus();
  return {
    infermark_version: infermarkVersion(),
    node_version: process.version,
    os: { platform: os.platform(), release: os.release(), arch: os.arch() },
    host: { cpu_model: cpus[0]?.model ?? 'unknown', cores: cpus.length, memory_bytes: os.totalmem() },
    gpus: await queryGpus(),
  };
}

/** GPU model and memory from nvidia-smi when it is installed; none otherwise. */
async function queryGpus(): Promise<ClientEnvironment['gpus']> {
  try {
    const { stdout } = await promisify(execFile)(
      'nvidia-smi',
      ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'],
      { timeout: 5000 },
    );
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', memory = '0'] = line.split(',').map((s) => s.trim());
        return { name, memory_mib: Number(memory) };
      });
  } catch {
    return [];
  }
}
