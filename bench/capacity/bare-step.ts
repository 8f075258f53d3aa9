/**
 * The floor of the capacity benchmark's TTFT error: the same step (a fresh simulator of the
 * same shape, closed loop at the same streams) sent by a bare undici client in this
 * process, which stamps the time just before it dispatches and when the first body bytes
 * holding content arrive, and parses nothing else. Its error against the simulator's write
 * log is what the host (kernel, scheduler, loopback, Node's event loop) adds to any Node
 * client; infermark's error cannot be less, so a target under this floor is out of reach
 * on this host, not missed by the client.
 */
import { Pool } from 'undici';
import { nowUs } from '../../src/base/clock.js';
import { pairWithWrites, percentileOf } from '../../src/engine/testing/server-truth.js';
import type { RequestRecord } from '../../src/metrics/record.js';
import { chatBody, runClosedLoop } from '../undici-floor.js';
import { spawnStepSimulator, type LoadShape } from './step.js';

export interface BareStep {
  concurrency: number;
  completed: number;
  err_p50_ms: number;
  err_p99_ms: number;
  /** This process's CPU (user + system) over the whole loop, per token the simulator was asked for. */
  cpu_us_per_token: number;
}

/** One step by the bare client: `warmup` requests, then `measured` ones, at `concurrency` streams. */
export async function runBareStep(
  shape: LoadShape,
  concurrency: number,
  warmup: number,
  measured: number,
): Promise<BareStep> {
  const sim = await spawnStepSimulator(shape);
  const pool = new Pool(sim.url, { connections: concurrency, headersTimeout: 0, bodyTimeout: 0 });
  const body = chatBody(shape.output_tokens);
  const records: RequestRecord[] = [];
  try {
    const send = (index: number): Promise<{ tokens: number; ok: boolean }> =>
      new Promise((resolve) => {
        const request_id = `bare-${index}`;
        let status = 0;
        let first: number | null = null;
        let last: number | null = null;
        const sent = nowUs();
        pool.dispatch(
          {
            method: 'POST',
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json', 'x-request-id': request_id },
            body,
          },
          {
            onConnect: () => {},
            onHeaders: (statusCode: number) => {
              status = statusCode;
              return true;
            },
            onData: (chunk: Buffer) => {
              const now = nowUs();
              // The first event with text: `"content":"` followed by anything but the closing quote.
              if (first === null) {
                const at = chunk.indexOf('"content":"');
                if (at >= 0 && chunk[at + 11] !== 0x22) first = now;
              }
              last = now;
              return true;
            },
            onComplete: () => {
              if (index >= warmup && status === 200 && first !== null) {
                records.push({
                  request_id,
                  status: 'ok',
                  sent_at_us: sent,
                  first_token_at_us: first,
                  last_token_at_us: last,
                  chunk_times_us: [],
                } as unknown as RequestRecord);
              }
              resolve({ tokens: status === 200 ? shape.output_tokens : 0, ok: status === 200 });
            },
            onError: () => resolve({ tokens: 0, ok: false }),
          },
        );
      });
    const cpu0 = process.cpuUsage();
    const { tokens } = await runClosedLoop(concurrency, warmup + measured, send);
    const cpu = process.cpuUsage(cpu0);
    const errors = pairWithWrites(records, await sim.writeLog()).map((p) => p.ttft_excess_ms);
    return {
      concurrency,
      completed: errors.length,
      err_p50_ms: percentileOf(errors, 50),
      err_p99_ms: percentileOf(errors, 99),
      cpu_us_per_token: (cpu.user + cpu.system) / Math.max(1, tokens),
    };
  } finally {
    await pool.close();
    await sim.close();
  }
}
