/**
 * How a coordinated run gets its workers: local processes now (cli/local-workers.ts),
 * pods with the Kubernetes controller. The coordinator only needs to start one per
 * shard, learn when one exits, and stop them.
 */

export interface WorkerSpec {
  index: number;
  of: number;
  coordinatorUrl: string;
  /** The bearer token for the coordinator; give it to the worker out of sight (its environment). */
  token: string;
}

export interface WorkerExit {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  /** The last lines the worker wrote to stderr (bounded), to say why it failed. */
  lastWords: string;
}

export interface WorkerHandle {
  /** Process (or pod) identity, for messages. */
  readonly label: string;
  /**
   * Started by someone else (a pod the controller made): there is no process here to wait
   * for, so the worker is done once its shard has said its end, or is lost.
   */
  readonly external?: boolean;
  readonly exited: Promise<WorkerExit>;
  /** Asks it to stop (`SIGINT`: end the iteration, keep what it finished) or ends it (`SIGKILL`). */
  kill(signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL'): void;
}

export interface WorkerLauncher {
  launch(spec: WorkerSpec): WorkerHandle;
  /**
   * How long every worker may take to be ready for the first iteration, when longer than
   * the run's own wait (a pod is scheduled and pulls its image first).
   */
  readonly startupWaitMs?: number;
}

/** Why a worker that exited before its end is lost, in a person's words. */
export function describeExit(exit: WorkerExit): string {
  const how = exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code}`;
  const words = exit.lastWords.trim().split('\n').filter(Boolean).pop();
  return `its worker ${how}${words ? ` (${words.slice(0, 300)})` : ''}`;
}
