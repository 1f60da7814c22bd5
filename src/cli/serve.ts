/** `incoming serve`: runs the server until SIGINT/SIGTERM, then shuts down gracefully. */
import type { Logger as PinoLogger } from 'pino';
import type { Config } from '../config.js';
import { startServer } from '../server.js';

export async function runServe(config: Config, log: PinoLogger): Promise<number> {
  const server = await startServer(config, log);
  if (server.bootstrapKey) {
    const { key, secret } = server.bootstrapKey;
    // Printed once, on stdout and outside the JSON log, so the secret never lands in log storage by accident.
    process.stdout.write(
      `\n  First start: created an API key with all permissions (shown only now).\n` +
        `    X-API-Key:    ${key.publicKey}\n    X-API-Secret: ${secret}\n\n`,
    );
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => {
        log.error('graceful shutdown timed out; exiting');
        process.exit(1);
      }, config.shutdownTimeoutMs);
      force.unref();
      server.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
