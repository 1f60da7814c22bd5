/**
 * The `incoming` command: `serve` (default), `migrate`, `keys create|list|revoke`. Argument parsing plus one service
 * call each.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logging.js';
import { StartupError } from '../shared/errors.js';
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

/** A command line that does not parse: exit code 2 with the usage. */
class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    return parseArgs({
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
  } catch (err) {
    // node:util's own messages ("Unknown option '--nmae'", "Option '--name <value>' argument missing").
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message);
    throw err;
  }
}

/** Positionals a command takes after its name: `keys revoke ID` takes two, `keys create|list` one, the others none. */
function surplus(command: string, rest: string[]): string[] {
  if (command !== 'keys') return rest;
  return rest.slice(rest[0] === 'revoke' ? 2 : 1);
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parse(argv);
  const [command = 'serve', ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!['serve', 'migrate', 'keys'].includes(command)) throw new UsageError(`Unknown command "${command}".`);
  const extra = surplus(command, rest);
  if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}".`);
  const config = loadConfig();
  // CLI commands log only warnings so their output stays readable; `serve` logs at LOG_LEVEL.
  const log = createLogger(command === 'serve' ? config : { logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  switch (command) {
    case 'serve':
      return runServe(config, log);
    case 'migrate':
      return runMigrate(config, log);
    default:
      return runKeys(config, log, rest, values);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`${err.message}\n${USAGE}`);
    process.exitCode = 2;
  } else if (err instanceof ConfigError) {
    console.error(err.message);
    process.exitCode = 78; // EX_CONFIG
  } else if (err instanceof StartupError) {
    // The operator's to fix (database, port, DATA_DIR); the message says what and where, a stack trace would bury it.
    console.error(`incoming: ${err.message}`);
    process.exitCode = 1;
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  }
}
