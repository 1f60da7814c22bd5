/** `incoming keys create|list|revoke`. */
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';
import { parseId } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { AuthService, parsePermissions, presentKey } from '../modules/auth/index.js';
import { explainPendingMigrations, migrateUp, pendingMigrations } from '../db/orm.js';
import { withOrm } from './with-orm.js';

interface KeyOptions {
  name?: string;
  permissions?: string;
  accounts?: string;
  'per-minute'?: string;
  'per-hour'?: string;
  json?: boolean;
}

const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

/**
 * A text field of the plain (tab-separated, one key per line) output: a backslash, a tab, a line break or any other
 * control character in a key's name (or a bootstrap key id) is written as an escape (`\\`, `\t`, `\n`, `\r`,
 * `\u001b`), so every key stays one line of five fields however it is named.
 */
export function plainField(s: string): string {
  return s.replace(/[\\\p{Cc}\u2028\u2029]/gu, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export async function runKeys(config: Config, log: Logger, args: string[], opts: KeyOptions): Promise<number> {
  try {
    return await withOrm(config, log, async (orm) => {
      const pending = config.migrateOnStart ? (await migrateUp(orm), []) : await pendingMigrations(orm);
      try {
        return await keysCommand(new AuthService({ orm, log, defaults: config.rateLimit }), args, opts);
      } catch (err) {
        throw explainPendingMigrations(err, pending);
      }
    });
  } catch (err) {
    if (err instanceof AppError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

async function keysCommand(auth: AuthService, [sub, idArg]: string[], opts: KeyOptions): Promise<number> {
  switch (sub) {
    case 'create': {
      if (!opts.name) throw AppError.badInput('--name is required');
      const created = await auth.createKey({
        name: opts.name,
        permissions: parsePermissions(list(opts.permissions ?? 'read')),
        // Given but empty (`--accounts "$IDS"` with IDS unset) is an empty scope, which the service refuses: never every account.
        accountIds: opts.accounts !== undefined ? list(opts.accounts).map((a) => parseId(a, '--accounts')) : null,
        requestsPerMinute: opts['per-minute'] !== undefined ? Number(opts['per-minute']) : undefined,
        requestsPerHour: opts['per-hour'] !== undefined ? Number(opts['per-hour']) : undefined,
      });
      const out = { ...presentKey(created.key), secret: created.secret };
      if (opts.json) console.log(JSON.stringify(out));
      else console.log(`Created key ${out.id} "${plainField(out.name)}" [${out.permissions.join(',')}]\n  X-API-Key:    ${out.publicKey}\n  X-API-Secret: ${out.secret}\n(the secret is shown only now)`);
      return 0;
    }
    case 'list': {
      const keys = (await auth.listKeys()).map(presentKey);
      if (opts.json) console.log(JSON.stringify(keys));
      else for (const k of keys) console.log(`${k.id}\t${plainField(k.publicKey)}\t${plainField(k.name)}\t${k.permissions.join(',')}\t${k.revokedAt ? 'revoked' : 'active'}`);
      return 0;
    }
    case 'revoke': {
      if (!idArg) throw AppError.badInput('usage: incoming keys revoke ID');
      const k = await auth.revokeKey(parseId(idArg, 'ID'));
      console.log(`Revoked key ${k.id} "${plainField(k.name)}"`);
      return 0;
    }
    default:
      throw AppError.badInput('usage: incoming keys create|list|revoke');
  }
}
