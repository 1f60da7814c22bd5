/**
 * The API-key service against real PostgreSQL, where only its own timing shows: a key read from the database while a
 * change of it commits must not be cached as it was before the change; unknown key ids are cached briefly (a key created
 * under one works at once here, within the TTL elsewhere); and what a new key may be given.
 */
import { RequestContext, type MikroORM } from '@mikro-orm/postgresql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuthService, KEY_CACHE_TTL_MS } from '../../src/modules/auth/index.js';
import { expectEventually } from '../support/eventually.js';
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

describe('unknown key ids', () => {
  const unknown = (auth: AuthService, publicKey: string) =>
    expect(inContext(() => auth.authenticate(publicKey, 'a-guessed-secret'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

  it('are looked up once per KEY_CACHE_TTL_MS, not once per request; a key created here under one works at once', async () => {
    let reads = 0;
    const auth = new AuthService({ orm: delayedReads(t.orm, () => undefined, () => reads++), log, defaults: { perMinute: 60, perHour: 1000 } });
    const publicKey = `ink_later_${Date.now()}`;
    for (let i = 0; i < 20; i++) await unknown(auth, publicKey);
    expect(reads).toBe(1);
    const secret = 'ins_the-secret-of-the-later-key';
    await inContext(() => auth.createKey({ name: 'later', permissions: ['read'], publicKey, secret }));
    await expect(inContext(() => auth.authenticate(publicKey, secret))).resolves.toMatchObject({ name: 'later' });
  });

  it('a key created elsewhere (another instance, the CLI) is known within KEY_CACHE_TTL_MS', async () => {
    const here = new AuthService({ orm: t.orm, log, defaults: { perMinute: 60, perHour: 1000 } });
    const elsewhere = new AuthService({ orm: t.orm, log, defaults: { perMinute: 60, perHour: 1000 } });
    const publicKey = `ink_elsewhere_${Date.now()}`;
    const secret = 'ins_the-secret-of-the-other-key';
    await unknown(here, publicKey);
    const created = Date.now();
    await inContext(() => elsewhere.createKey({ name: 'elsewhere', permissions: ['read'], publicKey, secret }));
    await expectEventually(() => expect(inContext(() => here.authenticate(publicKey, secret))).resolves.toMatchObject({ name: 'elsewhere' }), {
      timeoutMs: KEY_CACHE_TTL_MS + 1000,
      intervalMs: 200,
    });
    expect(Date.now() - created).toBeLessThanOrEqual(KEY_CACHE_TTL_MS + 1000);
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
