/**
 * The telemetry targets a job scrapes (docs/telemetry.md): spec.telemetry with each target's
 * name filled in (`<role>`, then `<role>-2`, ...), plus the server's own /metrics (metricsUrl,
 * or `<endpoint>/metrics`) as the target `server` unless the list already has a target of
 * role server. The names are folder names in the run folder, so they must be unique.
 */
import type { telemetryRoles } from './job-schema.js';

export type TelemetryTargetRole = (typeof telemetryRoles)[number];

export interface TelemetryTargetSpec {
  url: string;
  role: TelemetryTargetRole;
  name?: string | undefined;
  labels?: Record<string, string> | undefined;
}

export interface TelemetryTarget {
  name: string;
  role: TelemetryTargetRole;
  url: string;
  labels: Record<string, string>;
  /** True for the server's /metrics added without being listed. */
  implicit: boolean;
}

/**
 * The listed targets with their names, then the implicit server target when `serverUrl`
 * is given and no listed target has role server. A name given twice stays twice (the job
 * rules refuse it); a default name skips the names already taken.
 */
export function resolveTelemetryTargets(
  listed: readonly TelemetryTargetSpec[],
  serverUrl: string | null,
): TelemetryTarget[] {
  const taken = new Set(listed.flatMap((t) => (t.name === undefined ? [] : [t.name])));
  const free = (role: string): string => {
    for (let n = 1; ; n++) {
      const name = n === 1 ? role : `${role}-${n}`;
      if (!taken.has(name)) {
        taken.add(name);
        return name;
      }
    }
  };
  const out: TelemetryTarget[] = listed.map((t) => ({
    name: t.name ?? '',
    role: t.role,
    url: t.url,
    labels: { ...(t.labels ?? {}) },
    implicit: false,
  }));
  // Default names after every explicit one is known, in list order.
  for (const target of out) if (target.name === '') target.name = free(target.role);
  if (serverUrl !== null && !listed.some((t) => t.role === 'server')) {
    out.push({ name: free('server'), role: 'server', url: serverUrl, labels: {}, implicit: true });
  }
  return out;
}
