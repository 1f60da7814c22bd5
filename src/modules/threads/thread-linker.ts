/**
 * Enrichment hook: links each new email to a thread through In-Reply-To / References (and adopts replies that arrived
 * before their parent). Batch-shaped: a constant number of queries per stored batch.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';
import type { IngestHook, StoredEmail } from '../emails/index.js';

/** "Re: Fwd: AW: Subject" → "Subject" (thread titles). */
export function normalizeSubject(subject: string | null): string | null {
  if (!subject) return null;
  return subject.replace(/^(\s*(re|fw|fwd|aw|wg|tr|sv|vs|antw|rif|r)(\[\d+\])?\s*:\s*)+/i, '').trim() || null;
}

export class ThreadLinker implements IngestHook {
  readonly name = 'threads';

  async afterInsert(em: EntityManager, emails: readonly StoredEmail[]): Promise<void> {
    if (emails.length === 0) return;
    const accountId = emails[0]!.accountId;
    const refsOf = (e: StoredEmail) => [...new Set([e.inReplyTo, ...e.references].filter((r): r is string => !!r))];
    const ids = [...new Set(emails.flatMap((e) => [...refsOf(e), e.messageId]).filter((r): r is string => !!r))];
    const known = new Map<string, number>();
    if (ids.length > 0) {
      const rows = await exec<{ message_id: string; thread_id: number }>(
        em,
        'SELECT message_id, thread_id FROM emails WHERE account_id = ? AND message_id = ANY(?::text[]) AND thread_id IS NOT NULL',
        [accountId, ids],
      );
      for (const r of rows) known.set(r.message_id, r.thread_id);
    }
    // Replies stored earlier than their parent: they point at us through In-Reply-To.
    const ownIds = emails.map((e) => e.messageId).filter((r): r is string => !!r);
    const children = new Map<string, number>();
    if (ownIds.length > 0) {
      const rows = await exec<{ in_reply_to: string; thread_id: number }>(
        em,
        'SELECT in_reply_to, thread_id FROM emails WHERE account_id = ? AND in_reply_to = ANY(?::text[]) AND thread_id IS NOT NULL',
        [accountId, ownIds],
      );
      for (const r of rows) children.set(r.in_reply_to, r.thread_id);
    }
    const touched = new Set<number>();
    const merges: [number, number][] = [];
    for (const e of emails) {
      const candidates = [...refsOf(e).map((r) => known.get(r)), e.messageId ? known.get(e.messageId) : undefined, e.messageId ? children.get(e.messageId) : undefined]
        .filter((t): t is number => t !== undefined);
      let threadId = candidates.length > 0 ? Math.min(...candidates) : undefined;
      if (threadId === undefined) {
        const [row] = await exec<{ id: number }>(
          em,
          'INSERT INTO threads (account_id, subject, message_count, created_at) VALUES (?, ?, 0, now()) RETURNING id',
          [accountId, normalizeSubject(e.subject)],
        );
        threadId = row!.id;
      }
      for (const other of new Set(candidates)) if (other !== threadId) merges.push([other, threadId]);
      if (e.messageId) known.set(e.messageId, threadId);
      for (const r of refsOf(e)) if (!known.has(r)) known.set(r, threadId);
      await exec(em, 'UPDATE emails SET thread_id = ? WHERE id = ?', [threadId, e.id]);
      touched.add(threadId);
    }
    for (const [from, into] of merges) {
      await exec(em, 'UPDATE emails SET thread_id = ? WHERE thread_id = ?', [into, from]);
      await exec(em, 'DELETE FROM threads WHERE id = ?', [from]);
      touched.delete(from);
      touched.add(into);
    }
    await exec(
      em,
      `UPDATE threads t SET message_count = s.n, last_message_at = s.last
       FROM (SELECT thread_id, count(*)::int AS n, max(received_at) AS last FROM emails WHERE thread_id = ANY(?::int[]) GROUP BY thread_id) s
       WHERE t.id = s.thread_id`,
      [[...touched]],
    );
  }
}
