/**
 * The telemetry targets a run scrapes (docs/telemetry.md): spec.telemetry and the server's
 * /metrics, each with the headers it gets; the probe before any load that decides which
 * are scraped (a target that does not answer is not, and the user is told); and what each
 * iteration's scrapers are given. A run in one process does this for itself; a split run's
 * coordinator does it once for all its shards, which scrape nothing (docs/shards.md).
 */
import type { WallAnchor } from '../base/clock.js';
import { redactUrl } from '../base/redact.js';
import { fetchText, METRICS_BODY_LIMIT_BYTES, PROBE_TOTAL_MS } from '../evidence/server-probe.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import type { ResolvedEndpoint } from '../spec/endpoint.js';
import { resolveTelemetryTargets, type TelemetryTarget } from '../spec/telemetry-targets.js';
import type { ScrapeTarget } from '../telemetry/iteration-scrapes.js';

/** A telemetry target with the headers it gets. */
export interface RunTelemetryTarget extends TelemetryTarget {
  /** The key goes only where the requests go: a metrics endpoint elsewhere gets no credentials. */
  headers: Record<string, string>;
}

/** Whether a target answered its probe, and why not. */
export interface TelemetryProbe {
  ok: boolean;
  reason?: string;
}

/** Every target of the job, the server's /metrics among them unless one of role server is listed. */
export function runTelemetryTargets(
  spec: BenchmarkJob['spec'],
  endpoint: ResolvedEndpoint,
  authHeaders: Record<string, string>,
): RunTelemetryTarget[] {
  return resolveTelemetryTargets(spec.telemetry ?? [], spec.metricsUrl ?? `${endpoint.baseUrl}/metrics`).map(
    (target) => ({ ...target, headers: sameOrigin(target.url, endpoint.baseUrl) ? authHeaders : {} }),
  );
}

/** One GET of each target, all at once, bounded; Ctrl-C ends them (a hanging exporter must not hold it). */
export async function probeTelemetry(
  targets: readonly RunTelemetryTarget[],
  signal?: AbortSignal,
): Promise<TelemetryProbe[]> {
  const answers = await Promise.all(
    targets.map((target) =>
      fetchText(target.url, target.headers, {
        maxBytes: METRICS_BODY_LIMIT_BYTES,
        totalMs: PROBE_TOTAL_MS,
        ...(signal ? { signal } : {}),
      }),
    ),
  );
  return answers.map((answer) => (answer.ok ? { ok: true } : { ok: false, reason: answer.reason }));
}

/** What to tell the user of each target that will not be scraped. */
export function probeNotices(
  targets: readonly RunTelemetryTarget[],
  probes: readonly TelemetryProbe[],
): string[] {
  return targets.flatMap((target, i) => {
    const probe = probes[i];
    if (!probe || probe.ok) return [];
    // As the URL is written everywhere else: no userinfo, no secret-looking query values.
    const what = target.implicit ? 'server metrics' : `telemetry target ${target.name}`;
    return [`${what} not scraped (${redactUrl(target.url)}: ${probe.reason ?? 'no answer'})`];
  });
}

/** The scrapers' targets for every iteration: those that answered their probe. */
export function scrapeTargets(
  targets: readonly RunTelemetryTarget[],
  probes: readonly TelemetryProbe[],
  spec: BenchmarkJob['spec'],
  anchor: WallAnchor,
): ScrapeTarget[] {
  return targets.flatMap((target, i) =>
    probes[i]?.ok
      ? [
          {
            url: target.url,
            headers: target.headers,
            target: { name: target.name, role: target.role, labels: target.labels },
            ...(spec.metricsIntervalSeconds !== undefined
              ? { intervalMs: spec.metricsIntervalSeconds * 1000 }
              : {}),
            anchor,
          },
        ]
      : [],
  );
}

/** Whether two URLs share scheme, host and port. */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
