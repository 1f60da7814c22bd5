/**
 * Threads, read side (seed 004): conversations per account, newest activity first, and one thread with its emails.
 * Scope as everywhere: a thread of an account the key may not see does not exist for it.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../auth/index.js';
import { CountCache, scopeSql } from '../emails/index.js';
import { DEFAULT_PER_PAGE, MAX_PER_PAGE, positive, type EmailsQueryService } from '../emails/emails.query.service.js';

export interface ThreadRow {
  id: number;
  accountId: number | null;
  subject: string | null;
  messageCount: number;
  lastMessageAt: Date | null;
  createdAt: Date;
}

export interface ThreadPage {
  rows: ThreadRow[];
  total: number;
  page: number;
  perPage: number;
  totalPages: number;
}

const COLUMNS = `t.id, t.account_id AS "accountId", t.subject, t.message_count AS "messageCount",
  t.last_message_at AS "lastMessageAt", t.created_at AS "createdAt"`;

export class ThreadsService {
  /** Listing totals per outbox generation, as the emails' (count-cache.ts): threads change only with their emails. */
  private readonly counts = new CountCache();

  constructor(
    private readonly orm: MikroORM,
    private readonly emails: EmailsQueryService,
  ) {}

  private get em() {
    return this.orm.em.fork();
  }

  /** Threads with at least one email, most recent activity first (ties by id, so pages are stable). */
  async list(principal: Principal, args: { accountId?: number | null; page?: number | null; perPage?: number | null }): Promise<ThreadPage> {
    const page = positive(args.page, 'page', 1);
    const perPage = Math.min(positive(args.perPage, 'per_page', DEFAULT_PER_PAGE), MAX_PER_PAGE);
    if (args.accountId != null) await this.emails.accountFilter(principal, args.accountId);
    const scope = scopeSql(principal.accountIds, 't.account_id');
    const where = `${scope.sql} AND t.message_count > 0${args.accountId != null ? ' AND t.account_id = ?' : ''}`;
    const params = [...scope.params, ...(args.accountId != null ? [args.accountId] : [])];
    const em = this.em;
    const counted = async () => (await exec<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM threads t WHERE ${where}`, params))[0]!.n;
    // The order of the threads_activity index (migration threads_activity): a page is a walk, not a sort of all.
    const [rows, total] = await Promise.all([
      exec<ThreadRow>(em, `SELECT ${COLUMNS} FROM threads t WHERE ${where} ORDER BY t.last_message_at DESC NULLS LAST, t.id DESC LIMIT ? OFFSET ?`, [
        ...params,
        perPage,
        (page - 1) * perPage,
      ]),
      this.counts.generation(em).then((generation) => this.counts.total(`${where}\0${JSON.stringify(params)}`, generation, counted)),
    ]);
    return { rows: rows.map(toThreadRow), total, page, perPage, totalPages: Math.ceil(total / perPage) };
  }

  /** One thread, or NOT_FOUND (also outside the principal's scope, and once all its emails are deleted). */
  async get(principal: Principal, id: number): Promise<ThreadRow> {
    const scope = scopeSql(principal.accountIds, 't.account_id');
    const [row] = await exec<ThreadRow>(this.em, `SELECT ${COLUMNS} FROM threads t WHERE t.id = ? AND t.message_count > 0 AND ${scope.sql}`, [id, ...scope.params]);
    if (!row) throw AppError.notFound('Thread', id);
    return toThreadRow(row);
  }

  /** Threads by id (DataLoader source: only reached through an email the caller may see). */
  async byIds(ids: readonly number[]): Promise<Map<number, ThreadRow>> {
    const rows = await exec<ThreadRow>(this.em, `SELECT ${COLUMNS} FROM threads t WHERE t.id = ANY(?::int[])`, [[...ids]]);
    return new Map(rows.map((r) => [r.id, toThreadRow(r)]));
  }
}

function toThreadRow(r: ThreadRow): ThreadRow {
  return { ...r, lastMessageAt: r.lastMessageAt ? new Date(r.lastMessageAt) : null, createdAt: new Date(r.createdAt) };
}
