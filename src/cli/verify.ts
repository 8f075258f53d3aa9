/**
 * `infermark verify RUN_DIR`: what in a run folder is complete, partial or corrupt.
 * Exit 0 when the sealed run verifies whole, 3 when it is partial (interrupted or
 * killed) but nothing is corrupt, 1 when any byte changed or a file is missing.
 */
import { ExitCode } from '../base/errors.js';
import { verifyRunFolder, type VerifyReport } from '../evidence/verify.js';

export const VERIFY_PARTIAL_EXIT = 3;

export async function verifyCommand(dir: string, flags: { json?: boolean }): Promise<number> {
  const report = await verifyRunFolder(dir);
  process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  if (report.status === 'corrupt') return ExitCode.failure;
  return report.status === 'partial' ? VERIFY_PARTIAL_EXIT : ExitCode.ok;
}

export function renderReport(report: VerifyReport): string {
  const lines: string[] = [];
  const sealed = report.sealed ? `sealed (${report.run_status ?? 'unknown status'})` : 'not sealed';
  lines.push(`run ${report.run_id ?? '(unknown)'}: ${report.status.toUpperCase()}, ${sealed}`);
  if (report.artifact_manifest_digest)
    lines.push(`artifact_manifest_digest ${report.artifact_manifest_digest}`);
  lines.push(`${report.artifacts_checked} artifacts checked`);
  const planned = report.iterations_planned;
  lines.push(
    `iterations: ${report.iterations.length} started${planned !== null ? ` of ${planned} planned` : ''}`,
  );
  for (const it of report.iterations) {
    lines.push(
      `  ${String(it.iteration).padStart(3, '0')}  ${it.status.padEnd(8)} ${it.records} records  ${it.detail}`,
    );
  }
  if (report.problems.length > 0) {
    lines.push('problems:');
    for (const p of report.problems) lines.push(`  ${p.path}: ${p.problem}`);
  }
  return `${lines.join('\n')}\n`;
}
