/**
 * The `incoming` command: `serve` (default), `migrate`, `keys create|list|revoke`. Argument parsing plus one service
 * call each.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logging.js';
import { runKeys } from './keys.js';
import { runMigrate } from './migrate.js';
import { runServe } from './serve.js';

const USAGE = `Usage:
  incoming [serve]                      start the server (applies migrations unless MIGRATE_ON_START=false)
  incoming migrate                      apply pending database migrations
  incoming keys create --name NAME --permissions read,write,send[,admin]
                       [--accounts 1,2] [--per-minute N] [--per-hour N] [--json]
  incoming keys list [--json]
  incoming keys revoke ID`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string' },
      permissions: { type: 'string' },
      accounts: { type: 'string' },
      'per-minute': { type: 'string' },
      'per-hour': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command = 'serve', ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  // CLI commands log only warnings so their output stays readable; `serve` logs at LOG_LEVEL.
  const log = createLogger(command === 'serve' ? config : { logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  switch (command) {
    case 'serve':
      return runServe(config, log);
    case 'migrate':
      return runMigrate(config, log);
    case 'keys':
      return runKeys(config, log, rest, values);
    default:
      console.error(`Unknown command "${command}".\n${USAGE}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exitCode = 78; // EX_CONFIG
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  }
}
