/**
 * `infermark diagnose`: a run against its baseline, as a Diagnosis. PLACEHOLDER until
 * the real diagnosis lands: it answers with no points and says so in its notes, so the
 * surfaces that call it (the MCP server) can be built and tested against its signature.
 */
import type { Warehouse } from '../warehouse/warehouse.js';
import { DIAGNOSIS_SCHEMA_VERSION, type Diagnosis } from './diagnosis.js';

export async function diagnose(
  warehouse: Warehouse,
  request: { runId: string; baselineRunId?: string },
): Promise<Diagnosis> {
  void warehouse;
  return {
    schema_version: DIAGNOSIS_SCHEMA_VERSION,
    run_id: request.runId,
    baseline_run_id: request.baselineRunId ?? null,
    points: [],
    findings: [],
    notes: ['diagnosis not built yet'],
  };
}
