/**
 * Per-account email statistics (seed 000 `GET /api/accounts/{id}/stats`, also in `GET /api/accounts/{id}` and
 * `?include_stats=1`), batched for many accounts. They read every email of the accounts (~0.5 s of PostgreSQL per
 * request at 100k emails, for an endpoint dashboards poll to watch a sync), so they are computed once per outbox
 * generation, as listing totals are (count-cache.ts): concurrent requests share one computation, a change shows at
 * the next request.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';
import type { AccountStats, AccountStatsSource } from '../accounts/index.js';
import { CountCache } from './count-cache.js';

export class EmailStatsService implements AccountStatsSource {
  private readonly cache = new CountCache<Map<number, AccountStats>>();

  constructor(private readonly orm: MikroORM) {}

  async statsFor(accountIds: number[]): Promise<Map<number, AccountStats>> {
    if (accountIds.length === 0) return new Map();
    const key = JSON.stringify(accountIds);
    return this.cache.total(key, await this.cache.generation(this.orm.em.fork()), () => this.compute(accountIds));
  }

  private async compute(accountIds: number[]): Promise<Map<number, AccountStats>> {
    const out = new Map<number, AccountStats>();
    const em = this.orm.em.fork();
    const totals = await exec<{ account_id: number; total: string; unread: string; with_att: string; latest: Date | null; oldest: Date | null }>(
      em,
      `SELECT account_id, count(*) AS total, count(*) FILTER (WHERE NOT is_read) AS unread,
              count(*) FILTER (WHERE has_attachments) AS with_att, max(received_at) AS latest, min(received_at) AS oldest
       FROM emails WHERE account_id = ANY(?::int[]) GROUP BY account_id`,
      [accountIds],
    );
    const folders = await exec<{ account_id: number; folder: string; n: string }>(
      em,
      'SELECT account_id, folder, count(*) AS n FROM emails WHERE account_id = ANY(?::int[]) GROUP BY account_id, folder ORDER BY account_id, count(*) DESC, folder',
      [accountIds],
    );
    for (const t of totals) {
      out.set(t.account_id, {
        totalEmails: Number(t.total),
        unreadEmails: Number(t.unread),
        withAttachments: Number(t.with_att),
        byFolder: folders.filter((f) => f.account_id === t.account_id).map((f) => ({ folder: f.folder, count: Number(f.n) })),
        latestEmailAt: t.latest ? new Date(t.latest) : null,
        oldestEmailAt: t.oldest ? new Date(t.oldest) : null,
      });
    }
    return out;
  }
}
