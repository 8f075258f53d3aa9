/**
 * A Prometheus family whose series are read at scrape time, for the simulator's telemetry
 * endpoints (GPU, host, cluster): prom-client formats the text, the simulator's state
 * supplies the numbers, and a series that no longer exists disappears from the next scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** One series: its labels and value. */
export type Series = readonly [labels: Record<string, string>, value: number];

/** Register `name` on `registry`, its series read by `read` at each scrape. */
export function registerFamily(
  registry: Registry,
  type: 'gauge' | 'counter',
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => readonly Series[],
): void {
  if (type === 'gauge') {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  } else {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  }
}
