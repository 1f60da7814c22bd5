/**
 * The API-key service against real PostgreSQL, where only its own timing shows: a key read from the database while a
 * change of it commits must not be cached as it was before the change; and what a new key may be given.
 */
import { RequestContext, type MikroORM } from '@mikro-orm/postgresql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuthService } from '../../src/modules/auth/index.js';
import { useOrmDatabase } from '../support/orm.js';

const t = useOrmDatabase();
const log = pino({ level: 'silent' });

/**
 * The ORM as the auth service sees it, except that a key read through `findOne` is handed back only once `hold`
 * (when set) resolves: the read happened, its answer is still on its way (a busy event loop, a slow network).
 */
function delayedReads(orm: MikroORM, hold: () => Promise<void> | undefined, read: () => void): MikroORM {
  return {
    get em() {
      const em = orm.em;
      return new Proxy(em, {
        get(target, prop) {
          if (prop === 'findOne') {
            return async (...args: Parameters<typeof em.findOne>) => {
              const row = await target.findOne(...args);
              read();
              await hold();
              return row;
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
  } as MikroORM;
}

const inContext = <T>(fn: () => Promise<T>): Promise<T> => RequestContext.create(t.orm.em, fn);

describe('API key cache', () => {
  it('a key read just before its revocation committed is not cached: the revoked key is refused at once', async () => {
    let gate: Promise<void> | undefined;
    let release = () => undefined as void;
    let wasRead = () => undefined as void;
    const auth = new AuthService({ orm: delayedReads(t.orm, () => gate, () => wasRead()), log, defaults: { perMinute: 60, perHour: 1000 } });
    const { key, secret } = await inContext(() => auth.createKey({ name: 'racing', permissions: ['read'] }));

    // A request reads the key (not revoked yet); its answer arrives only after the revocation committed.
    gate = new Promise<void>((r) => (release = r));
    const read = new Promise<void>((r) => (wasRead = r));
    const inFlight = inContext(() => auth.authenticate(key.publicKey, secret));
    await read;
    gate = undefined;
    await inContext(() => auth.revokeKey(key.id));
    release();
    // The request that was already running may finish; it read the key before the change.
    await expect(inFlight).resolves.toMatchObject({ keyId: key.id });
    // Every request after the revocation is refused, not only once the cache entry expires (KEY_CACHE_TTL_MS).
    await expect(inContext(() => auth.authenticate(key.publicKey, secret))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('creating a key', () => {
  const auth = () => new AuthService({ orm: t.orm, log, defaults: { perMinute: 60, perHour: 1000 } });

  it('an empty account scope is refused: it is no scope at all, not every account', async () => {
    await expect(inContext(() => auth().createKey({ name: 'nothing', permissions: ['read'], accountIds: [] }))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('account_ids'),
    });
  });

  it('limits beyond what the database stores are refused as input, not as a database error', async () => {
    for (const [field, input] of [
      ['requests_per_minute', { requestsPerMinute: 2 ** 31 }],
      ['requests_per_hour', { requestsPerHour: 99_999_999_999 }],
    ] as const) {
      await expect(inContext(() => auth().createKey({ name: 'big', permissions: ['read'], ...input }))).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        message: expect.stringContaining(field),
      });
    }
    const max = await inContext(() => auth().createKey({ name: 'max', permissions: ['read'], requestsPerMinute: 2 ** 31 - 1 }));
    expect(max.key.requestsPerMinute).toBe(2 ** 31 - 1);
  });
});
