/**
 * `incoming serve`: runs the server until SIGINT/SIGTERM, then shuts down gracefully. A signal during start-up stops
 * the start at its next step (it used to kill the process, leaving the embedded PostgreSQL or its initdb running).
 */
import type { Logger as PinoLogger } from 'pino';
import type { Config } from '../config.js';
import { startServer, type RunningServer } from '../server.js';

export async function runServe(config: Config, log: PinoLogger): Promise<number> {
  const starting = new AbortController();
  let stopRequested = false;
  let onStop: (() => void) | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stopRequested) return;
    stopRequested = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    starting.abort();
    onStop?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let server: RunningServer;
  try {
    server = await startServer(config, log, starting.signal);
  } catch (err) {
    if (!stopRequested) throw err;
    log.info('start-up interrupted; stopped');
    return 0;
  }
  if (server.bootstrapKey) {
    const { key, secret } = server.bootstrapKey;
    // Printed once, on stdout and outside the JSON log, so the secret never lands in log storage by accident.
    process.stdout.write(
      `\n  First start: created an API key with all permissions (shown only now).\n` +
        `    X-API-Key:    ${key.publicKey}\n    X-API-Secret: ${secret}\n\n`,
    );
  }
  return new Promise<number>((resolve) => {
    onStop = () =>
      server.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    if (stopRequested) onStop();
  });
}
