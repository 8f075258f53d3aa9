/**
 * Workers started by someone else: the Kubernetes controller's shard pods (docs/k8s.md,
 * "Workers"). The coordinator starts none; each pod runs `infermark shard --coordinator URL
 * --shard I` with its shard's token (shardToken) in its environment. A handle here never
 * exits on its own and cannot signal its pod: the coordinator's timeouts decide that a silent
 * shard is lost, and a killed handle only stops waiting for it.
 */
import type { WorkerExit, WorkerHandle, WorkerLauncher, WorkerSpec } from '../engine/worker-launcher.js';

/** How long the first iteration waits for every shard pod: scheduling and an image pull. */
export const POD_STARTUP_WAIT_MS = 10 * 60_000;

export function externalWorkers(): WorkerLauncher {
  return {
    startupWaitMs: POD_STARTUP_WAIT_MS,
    launch(spec: WorkerSpec): WorkerHandle {
      let release: (exit: WorkerExit) => void = () => {};
      const exited = new Promise<WorkerExit>((resolve) => (release = resolve));
      return {
        label: `shard ${spec.index} (started by the controller)`,
        external: true,
        exited,
        kill(signal) {
          // SIGINT/SIGTERM: the shard learns at its next `ready` that the run stops.
          if (signal === 'SIGKILL')
            release({ code: null, signal, lastWords: 'no word from it: given up by the coordinator' });
        },
      };
    },
  };
}
