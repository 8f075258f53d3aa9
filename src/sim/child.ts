/**
 * Child-process entry point of spawnSimulator: starts a simulator from the options
 * in argv[2] (JSON), prints one JSON line `{"port":..,"url":..}` when listening,
 * answers `stats` requests over IPC, and exits when the parent goes away.
 */
import { startSimulator, type SimulatorOptions } from './server.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Partial<SimulatorOptions>;

try {
  const sim = await startSimulator(options);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sim.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin and IPC channel: either closing means it is gone.
  process.stdin.on('end', stop).on('close', stop).resume();
  process.on('disconnect', stop);
  process.on('message', (message: unknown) => {
    if (message && typeof message === 'object' && (message as { type?: unknown }).type === 'stats') {
      process.send?.({ type: 'stats', id: (message as { id?: unknown }).id, stats: sim.stats() });
    }
  });
  process.stdout.write(`${JSON.stringify({ port: sim.port, url: sim.url })}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
