/**
 * Waiting for the user to stop a long-running command (`simulate`, `serve`): the first
 * SIGINT or SIGTERM resolves the wait, which then stops listening, so a second one
 * ends the process as usual if shutting down hangs.
 */

/** Resolves on the first SIGINT or SIGTERM, with the signal's name. */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
