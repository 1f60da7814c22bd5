/**
 * Readiness (`/readyz`): the database answers and no migration is pending. Bounded in time: a database that hangs
 * (stopped, or packets dropped during a failover) made the probe hang with it, so a health checker without its own
 * timeout never saw the instance go unready.
 */
import { pendingMigrations, type Orm } from './orm.js';

export const READINESS_TIMEOUT_MS = 2000;

export function readinessCheck(orm: Orm, timeoutMs = READINESS_TIMEOUT_MS): () => Promise<{ ok: boolean; reason?: string }> {
  const check = async () => {
    try {
      await orm.em.fork().getConnection().execute('SELECT 1');
      const pending = await pendingMigrations(orm);
      return pending.length === 0 ? { ok: true } : { ok: false, reason: `pending migrations: ${pending.join(', ')}` };
    } catch (err) {
      return { ok: false, reason: `database unreachable: ${(err as Error).message}` };
    }
  };
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<{ ok: boolean; reason: string }>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `database did not answer within ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return await Promise.race([check(), late]);
    } finally {
      clearTimeout(timer);
    }
  };
}
