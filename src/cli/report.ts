/**
 * `infermark report RUN|RUN_GROUP [--vs RUN|RUN_GROUP]`: a report from the
 * warehouse as one offline HTML file (default), Markdown for a PR comment, or an
 * Excel workbook, rendered for engineering, product or partners (`--view`).
 * RUN may be an id or the run (or run group) folder that `run` printed.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { InfermarkError, ValidationError, type ValidationIssue } from '../base/errors.js';
import type { Asset, Tolerances } from '../gate/assets.js';
import type { ReportSubject } from './report-subject.js';
import { withWarehouse } from './warehouse-common.js';

export const REPORT_FORMATS = ['html', 'md', 'xlsx'] as const;
type ReportFormat = (typeof REPORT_FORMATS)[number];

interface ReportFlags {
  vs?: string;
  warehouse?: string;
  output?: string;
  format: string;
  view: string;
  iteration?: string;
  tolerances?: string;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('a report of a run or run group from the warehouse: offline HTML, Markdown or xlsx')
    .argument('<run>', 'run_id (or a unique prefix), run_group_id, or the run or run group folder')
    .option('--vs <baseline>', 'compare against this run or run group, by id or folder (the baseline, "A")')
    .option('--warehouse <path>', 'warehouse file (default: $INFERMARK_WAREHOUSE or the user data dir)')
    .option('-o, --output <file>', 'write here (default: report.<format>; "-" for stdout, not for xlsx)')
    .option('--format <format>', 'html, md or xlsx', 'html')
    .option('--view <view>', 'engineering, product or partner', 'engineering')
    .option('--iteration <n>', "the iteration (of the run's first run) for distributions and the time series")
    .option('--tolerances <file>', "tolerances.json for --vs gate verdicts (default: the gate's defaults)")
    .action(async (run: string, flags: ReportFlags) => {
      process.exitCode = await reportCommand(run, flags);
    });
}

export async function reportCommand(run: string, flags: ReportFlags): Promise<number> {
  const { VIEWS } = await import('../report/report-views.js');
  const issues: ValidationIssue[] = [];
  if (!(REPORT_FORMATS as readonly string[]).includes(flags.format)) {
    issues.push({
      path: '--format',
      value: flags.format,
      message: `expected one of ${REPORT_FORMATS.join(', ')}`,
    });
  }
  if (!(VIEWS as readonly string[]).includes(flags.view)) {
    issues.push({ path: '--view', value: flags.view, message: `expected one of ${VIEWS.join(', ')}` });
  }
  let iteration: number | undefined;
  if (flags.iteration !== undefined) {
    iteration = Number(flags.iteration);
    if (!/^\d+$/.test(flags.iteration)) {
      issues.push({ path: '--iteration', value: flags.iteration, message: 'expected a whole number ≥ 0' });
    }
  }
  const format = flags.format as ReportFormat;
  if (format === 'xlsx' && flags.output === '-') {
    issues.push({ path: '--output', value: '-', message: 'xlsx is binary: give a file name' });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const view = flags.view as (typeof VIEWS)[number];
  const output = flags.output ?? `report.${format}`;
  let tolerances: Asset<Tolerances> | undefined;
  if (flags.tolerances !== undefined) {
    const { readAsset, tolerancesSchema } = await import('../gate/assets.js');
    tolerances = await readAsset(flags.tolerances, tolerancesSchema);
  }
  const { reportSubject } = await import('./report-subject.js');
  const subject = await reportSubject(run, '<run>');
  const baseline = flags.vs === undefined ? undefined : await reportSubject(flags.vs, '--vs');
  let body: string | Buffer = '';
  await withWarehouse({ warehouse: flags.warehouse }, true, async (w) => {
    const { buildReportData, iterationRequests } = await import('../report/report-data.js');
    const data = await buildReportData(w, subject.id, { vs: baseline?.id, iteration, tolerances }).catch(
      (error: unknown) => {
        throw notIngestedHint(error, [subject, baseline]);
      },
    );
    if (format === 'html') {
      const { renderHtml } = await import('../report/report-html.js');
      body = renderHtml(data, view);
    } else if (format === 'md') {
      const { renderMarkdown } = await import('../report/report-md.js');
      body = renderMarkdown(data, view);
    } else {
      const { renderXlsx } = await import('../report/report-xlsx.js');
      const requests = data.drilldown
        ? await iterationRequests(w, data.drilldown.run_id, data.drilldown.iteration)
        : [];
      body = await renderXlsx(data, view, requests);
    }
  });
  if (output === '-') process.stdout.write(body);
  else {
    await writeFile(output, body);
    process.stderr.write(`infermark: report written to ${output}\n`);
  }
  return 0;
}

/** A folder whose run is not in the warehouse was most likely run with --no-warehouse or another file. */
function notIngestedHint(error: unknown, subjects: (ReportSubject | undefined)[]): unknown {
  if (!(error instanceof InfermarkError) || error.code !== 'E_NO_RUN') return error;
  const folder = subjects.find((s) => s?.folder !== undefined && error.message.includes(s.id))?.folder;
  if (folder === undefined) return error;
  return new InfermarkError(
    error.code,
    `${error.message} (${folder} was not ingested into this warehouse: infermark warehouse ingest ${folder})`,
    error.exitCode,
  );
}
