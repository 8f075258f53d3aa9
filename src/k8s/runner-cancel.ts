/**
 * `spec.cancel: true` reaches a running run (docs/k8s.md, "Cancel and delete"): the runner
 * reads its BenchmarkJob every few seconds (the spec with the infermark.io/spec annotation
 * merged over it, as the controller reads it) and, the first time cancel is set, says so
 * once; the caller ends the run as the first Ctrl-C does. Each read is bounded by a timeout;
 * a failed read is told once on stderr and the watch goes on.
 */
import { effectiveSpec } from './spec-annotation.js';
import { API_TIMEOUT_MS, describeApiError, type StatusApi } from './runner-api.js';

/** How often the BenchmarkJob is read while the run goes. */
export const CANCEL_POLL_MS = 3000;

export interface CancelWatch {
  stop(): void;
}

export function watchCancel(
  api: StatusApi,
  where: string,
  onCancel: () => void,
  options: { intervalMs?: number; timeoutMs?: number; report?: (message: string) => void } = {},
): CancelWatch {
  const intervalMs = options.intervalMs ?? CANCEL_POLL_MS;
  const timeoutMs = options.timeoutMs ?? API_TIMEOUT_MS;
  const report = options.report ?? ((message) => process.stderr.write(`${message}\n`));
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  const check = async (): Promise<void> => {
    try {
      const object = await api.read(AbortSignal.timeout(timeoutMs));
      // An annotation that is not JSON is the controller's to report; here it only cannot cancel.
      let spec: Record<string, unknown> = {};
      try {
        spec = effectiveSpec(object.spec, object.metadata?.annotations);
      } catch {
        spec = effectiveSpec(object.spec, undefined);
      }
      if (spec.cancel === true && !stopped) {
        stopped = true;
        onCancel();
        return;
      }
    } catch (error) {
      if (failures++ === 0)
        report(
          `infermark: ${where} not read for spec.cancel (${describeApiError(error, timeoutMs)}); the run goes on, reads go on without another word`,
        );
    }
    if (!stopped) schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => void check(), intervalMs);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
