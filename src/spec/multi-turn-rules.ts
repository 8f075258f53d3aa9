/**
 * The rules of spec.multiTurn that its schema cannot say (docs/multi-turn.md): a history is a
 * list of chat messages, so it needs the chat API; its user turns come from a synthetic text
 * scenario, which must say how many there are, or from a dataset (not a trace).
 */
import { EndpointUrlError, splitEndpointUrl, type OpenAiPath } from './endpoint.js';
import type { PathSegment } from './field-path.js';
import { MAX_URL_CHARS } from './job-limits.js';
import type { Task } from './tasks.js';
import type { ParsedScenario } from './validated-job.js';

type Obj = Record<string, unknown>;
type Add = (path: PathSegment[], message: string) => void;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * spec.multiTurn needs the chat API (a history is a list of chat messages) and a workload with
 * user turns: a synthetic text scenario, whose turns it must count, or a dataset.
 */
export function checkMultiTurn(
  spec: Obj,
  task: Task | undefined,
  scenarios: ParsedScenario[] | null,
  add: Add,
): void {
  const mt = spec.multiTurn;
  if (!isObj(mt)) return;
  const at: PathSegment[] = ['spec', 'multiTurn'];
  if (task !== undefined && task !== 'text-to-text') {
    add(at, `multi-turn needs the chat API: task ${task} has no conversation (expected task text-to-text)`);
    return;
  }
  if (spec.api === 'completions')
    add(at, 'multi-turn needs the chat API: spec.api is "completions" (expected "chat" or unset)');
  const ep = isObj(spec.endpoint) && isObj(spec.endpoint.endpoint) ? spec.endpoint.endpoint : null;
  if (
    ep &&
    typeof ep.url === 'string' &&
    ep.url.length <= MAX_URL_CHARS &&
    /^(http|https):\/\//.test(ep.url)
  ) {
    let path: OpenAiPath | null = null;
    try {
      path = splitEndpointUrl(ep.url).path;
    } catch (error) {
      // The endpoint's own check reports a URL that cannot be used.
      if (!(error instanceof EndpointUrlError)) throw error;
    }
    if (path !== null && path !== '/v1/chat/completions')
      add(
        at,
        `multi-turn needs the chat API: spec.endpoint.endpoint.url's path is ${path} (expected /v1/chat/completions)`,
      );
  }
  if (spec.trace !== undefined)
    add(at, 'multi-turn does not apply to trace replay (spec.trace): a trace has no conversations');
  const kinds = scenarios?.map((p) => p.scenario.kind) ?? [spec.datasetFile !== undefined ? 'dataset' : 'D'];
  scenarios?.forEach((p, i) => {
    if (!['D', 'N', 'U', 'dataset'].includes(p.scenario.kind))
      add(
        ['spec', 'trafficScenarios', i],
        `a ${p.scenario.kind}(...) scenario has no conversations (multi-turn needs D, N, U or dataset)`,
      );
  });
  const synthetic = kinds.some((k) => k === 'D' || k === 'N' || k === 'U');
  if (synthetic && mt.turns === undefined)
    add(
      [...at, 'turns'],
      'required with a synthetic scenario (D, N or U): how many user turns each conversation has',
    );
  if (synthetic && mt.assistantTurns === 'dataset')
    add(
      [...at, 'assistantTurns'],
      'needs the dataset scenario: a synthetic scenario has no replies to replay (expected "server")',
    );
}
