/**
 * Prometheus rules for an export plan: recording rules for each SLI (the share of requests
 * over the SLO's bucket, over every window an alert needs; request and failure rates) and
 * the SRE workbook's multi-window, multi-burn-rate alerts (page at 14.4× over 1h and 5m or
 * 6× over 6h and 30m; ticket at 3× over 1d and 2h or 1× over 3d and 6h). A window pair
 * fires only while both the long and the short window burn, so an alert stops soon after
 * the burning does.
 */
import { stringify } from 'yaml';
import {
  BURN_WINDOWS,
  counterSelector,
  promString,
  RATIO_WINDOWS,
  selector,
  type ExportPlan,
  type SloTarget,
} from './export-plan.js';

export interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}

export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold before the alert fires. */
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: (RecordingRule | AlertRule)[];
}

/** The recorded series names (dashboards read them too). */
export const RECORDED = {
  /** Share of requests over the SLO's bucket: labels model, slo, sli. */
  errorRatio: (window: string) => `infermark:slo_errors_per_request:ratio_rate${window}`,
  /** Requests per second the histogram counted: labels model, sli. */
  requests: (window: string) => `infermark:slo_requests:rate${window}`,
  /** Failed requests per second (engine counter): label model. */
  failures: (window: string) => `infermark:request_failures:rate${window}`,
  /** Failed over all requests: label model. */
  failureRatio: (window: string) => `infermark:request_failures_per_request:ratio_rate${window}`,
} as const;

/** PromQL for the share of requests over the SLO's bucket, over `window`. */
export function errorRatioExpr(plan: ExportPlan, target: SloTarget, window: string): string {
  const good = selector(plan, `${target.histogram.name}_bucket`, target.le_matcher);
  const all = selector(plan, `${target.histogram.name}_count`);
  return `1 - (sum(rate(${good}[${window}])) / sum(rate(${all}[${window}])))`;
}

/** A label selector of one recorded series of the plan's model. */
function recorded(plan: ExportPlan, name: string, labels: Record<string, string>): string {
  const all = { model: plan.model, ...labels };
  return `${name}{${Object.entries(all)
    .map(([k, v]) => `${k}="${promString(v)}"`)
    .join(',')}}`;
}

/** Failed requests per second as the engine counts them. */
function failuresExpr(plan: ExportPlan, window: string): string | null {
  if (plan.errors === null) return null;
  return `sum(rate(${counterSelector(plan, plan.errors.failed)}[${window}]))`;
}

function totalExpr(plan: ExportPlan, window: string): string | null {
  if (plan.errors === null) return null;
  return plan.errors.total.map((c) => `sum(rate(${counterSelector(plan, c)}[${window}]))`).join(' + ');
}

/** Name fragment of an SLO for alert names: `Ttft`, `E2e`. */
const title = (sli: string): string => sli.charAt(0).toUpperCase() + sli.slice(1);

/** Every recording rule of the plan. */
export function recordingRules(plan: ExportPlan): RecordingRule[] {
  const rules: RecordingRule[] = [];
  const seenSli = new Set<string>();
  for (const target of plan.targets) {
    const labels = { model: plan.model, slo: target.slo, sli: target.sli };
    for (const window of RATIO_WINDOWS) {
      rules.push({ record: RECORDED.errorRatio(window), expr: errorRatioExpr(plan, target, window), labels });
    }
    if (!seenSli.has(target.sli)) {
      seenSli.add(target.sli);
      rules.push({
        record: RECORDED.requests('5m'),
        expr: `sum(rate(${selector(plan, `${target.histogram.name}_count`)}[5m]))`,
        labels: { model: plan.model, sli: target.sli },
      });
    }
  }
  const windows = plan.availability === null ? (['5m'] as const) : RATIO_WINDOWS;
  for (const window of windows) {
    const failed = failuresExpr(plan, window);
    const total = totalExpr(plan, window);
    if (failed === null || total === null) break;
    if (window === '5m')
      rules.push({ record: RECORDED.failures(window), expr: failed, labels: { model: plan.model } });
    rules.push({
      record: RECORDED.failureRatio(window),
      expr: `${failed} / (${total})`,
      labels: { model: plan.model },
    });
  }
  return rules;
}

/** The page and ticket alerts of one ratio series (an SLO's, or the failures'). */
function burnAlerts(
  plan: ExportPlan,
  name: string,
  ratio: (window: string) => string,
  budget: number,
  labels: Record<string, string>,
  what: string,
): AlertRule[] {
  return (['page', 'ticket'] as const).map((severity) => {
    const pairs = BURN_WINDOWS.filter((w) => w.severity === severity);
    const expr = pairs
      .map(
        (w) =>
          `(${ratio(w.long)} > (${w.factor} * ${budget}) and ${ratio(w.short)} > (${w.factor} * ${budget}))`,
      )
      .join('\nor\n');
    const speed = severity === 'page' ? 'Fast' : 'Slow';
    const windows = pairs.map((w) => `${w.factor}× over ${w.long} and ${w.short}`).join(', or ');
    const days = severity === 'page' ? 'hours' : 'days';
    return {
      alert: `${name}${speed}Burn`,
      expr,
      labels: { severity, model: plan.model, ...labels },
      annotations: {
        summary: `${what} of ${plan.model} is burning its error budget ${severity === 'page' ? 'fast' : 'slowly'}`,
        description:
          `${what}: the share of bad requests exceeds the budget (${budget}) by ${windows}; ` +
          `at this rate the 30-day budget is gone within ${days}. Engine ${plan.engine}.`,
      },
    };
  });
}

/**
 * The guard of one SLI: the histogram counts requests but has no bucket at the SLO's
 * boundary (an engine version or a deployment with other boundaries than the rules were
 * written for). Without it the SLI series is empty and the burn alerts can never fire,
 * silently; promtool cannot see that, only the live series can.
 */
function bucketMissing(plan: ExportPlan, target: SloTarget): AlertRule {
  const bucket = selector(plan, `${target.histogram.name}_bucket`, target.le_matcher);
  const all = selector(plan, `${target.histogram.name}_count`);
  return {
    alert: `Infermark${title(target.sli)}SliBucketMissing`,
    expr: `sum(rate(${all}[1h])) > 0 unless sum(rate(${bucket}[1h]))`,
    for: '15m',
    labels: { severity: 'ticket', model: plan.model, slo: target.slo, sli: target.sli },
    annotations: {
      summary: `${target.histogram.name} of ${plan.model} has no bucket at ${target.le_s} s: the alerts of SLO ${target.slo} cannot fire`,
      description:
        `${target.histogram.name} counts requests but no series matches le ${target.le_s} s, the boundary the SLI of ` +
        `${target.slo} counts up to. The engine's buckets differ from the ones these rules were written for ` +
        `(engine ${plan.engine}): export again with --buckets set to the boundaries its /metrics shows.`,
    },
  };
}

/** Every alert rule of the plan. */
export function alertRules(plan: ExportPlan): AlertRule[] {
  const alerts: AlertRule[] = [];
  for (const target of plan.targets) {
    const budget = Number(target.budget.toPrecision(12));
    const what = `SLO ${target.slo} (objective ${target.objective * 100}% of requests within ${target.le_s} s on ${target.histogram.name})`;
    alerts.push(
      ...burnAlerts(
        plan,
        `Infermark${title(target.sli)}Slo`,
        (w) => recorded(plan, RECORDED.errorRatio(w), { slo: target.slo, sli: target.sli }),
        budget,
        { slo: target.slo, sli: target.sli },
        what,
      ),
      bucketMissing(plan, target),
    );
  }
  if (plan.availability !== null && plan.errors !== null) {
    const budget = Number((1 - plan.availability).toPrecision(12));
    alerts.push(
      ...burnAlerts(
        plan,
        'InfermarkAvailabilitySlo',
        (w) => recorded(plan, RECORDED.failureRatio(w), {}),
        budget,
        { slo: `availability>=${plan.availability}`, sli: 'availability' },
        `Availability ${plan.availability * 100}% (${plan.errors.meaning})`,
      ),
    );
  }
  return alerts;
}

/** The rule groups, recording rules first (Prometheus evaluates groups independently). */
export function ruleGroups(plan: ExportPlan): RuleGroup[] {
  const base = `infermark-slo-${plan.model.replace(/[^A-Za-z0-9_.-]+/g, '-')}`;
  return [
    { name: `${base}-sli`, rules: recordingRules(plan) },
    { name: `${base}-alerts`, rules: alertRules(plan) },
  ];
}

/** The rules file (`promtool check rules` reads it as is). */
export function rulesYaml(plan: ExportPlan, header: readonly string[] = []): string {
  const comments = header.map((line) => `# ${line}`).join('\n');
  return `${comments}${comments ? '\n' : ''}${stringify({ groups: ruleGroups(plan) }, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
