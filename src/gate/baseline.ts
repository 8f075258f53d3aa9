/**
 * `infermark gate baseline --from GROUP`: a baseline.json from a run group: every
 * gated key with one value per repeat, its unit and direction, the config
 * fingerprint and testbed, and the runs and evidence digests it came from.
 */
import type { Baseline } from './assets.js';
import type { RunGroup } from './run-group.js';

export function baselineFrom(group: RunGroup, now: Date = new Date()): Baseline {
  const keys = [...new Set(group.repeats.flatMap((r) => [...r.metrics.keys()]))].sort();
  const metrics: Baseline['metrics'] = {};
  for (const key of keys) {
    // A key some repeat lacks (e.g. no token at one point) cannot be compared per repeat: left out.
    if (!group.repeats.every((r) => r.metrics.has(key))) continue;
    const first = group.repeats[0]?.metrics.get(key);
    if (!first) continue;
    metrics[key] = {
      unit: first.unit,
      direction: first.direction,
      samples: group.repeats.map((r) => r.metrics.get(key)?.value as number),
      sample_counts: group.repeats.map((r) => r.metrics.get(key)?.samples ?? null),
    };
  }
  return {
    format: 'infermark-baseline/v1',
    created_at: now.toISOString(),
    config_fingerprint: group.config_fingerprint,
    testbed: { ...group.testbed },
    run_group_id: group.run_group_id,
    runs: group.repeats.map((r) => ({
      run_id: r.run_id,
      artifact_manifest_digest: r.artifact_manifest_digest,
    })),
    metrics,
  };
}
