/**
 * Enrichment hook: links each new email to a thread through In-Reply-To / References (and adopts replies that arrived
 * before their parent, whichever of the two names it). Batch-shaped: a constant number of queries per stored batch, whatever its size.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { lockRowsInIdOrder } from '../../db/rows.js';
import { exec } from '../../db/sql.js';
import type { NewEvent } from '../../events/index.js';
import type { IngestHook, StoredEmail } from '../emails/index.js';

/** "Re: Fwd: AW: Subject" → "Subject" (thread titles). */
export function normalizeSubject(subject: string | null): string | null {
  if (!subject) return null;
  return subject.replace(/^(\s*(re|fw|fwd|aw|wg|tr|sv|vs|antw|rif|r)(\[\d+\])?\s*:\s*)+/i, '').trim() || null;
}

const present = (xs: (string | null)[]): string[] => [...new Set(xs.filter((x): x is string => !!x))];
const refsOf = (e: StoredEmail) => present([e.inReplyTo, ...e.references]);

/** Union-find over thread keys, so messages of one conversation in one batch end up in one thread. */
class Groups {
  private readonly parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x) ?? x;
    while (p !== (this.parent.get(p) ?? p)) p = this.parent.get(p)!;
    this.parent.set(x, p);
    return p;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

export class ThreadLinker implements IngestHook {
  readonly name = 'threads';

  async afterInsert(em: EntityManager, emails: readonly StoredEmail[]): Promise<NewEvent<'thread.updated'>[]> {
    if (emails.length === 0) return [];
    const accountId = emails[0]!.accountId;
    const ids = present(emails.flatMap((e) => [...refsOf(e), e.messageId]));
    const own = present(emails.map((e) => e.messageId));
    // Existing threads: of the messages we reference, and of stored replies pointing at our messages.
    const known = new Map<string, number>();
    if (ids.length > 0) {
      const rows = await exec<{ message_id: string; thread_id: number }>(
        em,
        'SELECT message_id, thread_id FROM emails WHERE account_id = ? AND message_id = ANY(?::text[]) AND thread_id IS NOT NULL',
        [accountId, ids],
      );
      for (const r of rows) known.set(`m:${r.message_id}`, r.thread_id);
    }
    // Stored messages that name ours in In-Reply-To or in References: a reply to a reply whose middle message was
    // never synced (the user's own, in Sent) names our message only in its References. `\\?|` is jsonb's "any of"
    // (escaped from MikroORM's placeholders), one scan of the emails_references index for the whole batch.
    const children = own.length === 0 ? [] : await exec<{ parent: string; thread_id: number }>(
      em,
      `SELECT in_reply_to AS parent, thread_id FROM emails WHERE account_id = ? AND in_reply_to = ANY(?::text[]) AND thread_id IS NOT NULL
       UNION
       SELECT r.id, e.thread_id FROM emails e, jsonb_array_elements_text(e."references") AS r(id)
       WHERE e.account_id = ? AND e."references" \\?| ?::text[] AND e.thread_id IS NOT NULL AND r.id = ANY(?::text[])`,
      [accountId, own, accountId, own, own],
    );
    // Emails moved here on the server go back into their thread (when it still exists: a merge may have removed it).
    const previous = [...new Set(emails.flatMap((e) => (e.previousThreadId ? [e.previousThreadId] : [])))];
    const kept = previous.length === 0 ? new Set<number>() : new Set((await exec<{ id: number }>(
      em,
      'SELECT id FROM threads WHERE id = ANY(?::int[]) AND account_id = ?',
      [previous, accountId],
    )).map((r) => r.id));
    // Group this batch's emails with everything they are connected to (message ids and existing threads).
    const g = new Groups();
    for (const e of emails) {
      const self = `e:${e.id}`;
      if (e.previousThreadId && kept.has(e.previousThreadId)) g.union(self, `t:${e.previousThreadId}`);
      for (const id of [...refsOf(e), e.messageId].filter((x): x is string => !!x)) {
        g.union(self, `m:${id}`);
        const t = known.get(`m:${id}`);
        if (t !== undefined) g.union(self, `t:${t}`);
      }
    }
    for (const c of children) g.union(`m:${c.parent}`, `t:${c.thread_id}`);
    // Each group takes its lowest existing thread; groups without one get a new thread (one INSERT for all).
    const members = new Map<string, StoredEmail[]>();
    const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
    for (const e of emails) push(members, g.find(`e:${e.id}`), e);
    const threadsOf = new Map<string, number[]>();
    for (const t of new Set([...known.values(), ...children.map((c) => c.thread_id), ...kept])) push(threadsOf, g.find(`t:${t}`), t);
    const roots = [...members.keys()];
    const fresh = roots.filter((r) => !threadsOf.has(r));
    const created = fresh.length === 0 ? [] : await exec<{ id: number }>(
      em,
      `INSERT INTO threads (account_id, subject, message_count, created_at)
       SELECT ?, s, 0, now() FROM unnest(?::text[]) WITH ORDINALITY AS t(s, n) ORDER BY n RETURNING id`,
      [accountId, fresh.map((r) => normalizeSubject([...members.get(r)!].sort((a, b) => +a.receivedAt - +b.receivedAt)[0]!.subject) ?? '')],
    );
    const assign = new Map<string, number>(fresh.map((r, i) => [r, created[i]!.id]));
    const merges: [number, number][] = [];
    for (const r of roots) {
      if (assign.has(r)) continue;
      const ts = [...new Set(threadsOf.get(r)!)].sort((a, b) => a - b);
      assign.set(r, ts[0]!);
      for (const other of ts.slice(1)) merges.push([other, ts[0]!]);
    }
    const pairs = emails.map((e) => [e.id, assign.get(g.find(`e:${e.id}`))!] as const);
    await exec(em, 'UPDATE emails SET thread_id = u.t FROM unnest(?::int[], ?::int[]) AS u(id, t) WHERE emails.id = u.id', [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
    if (merges.length > 0) {
      // In id order, as every writer of several emails locks them: the UPDATE alone takes them in its plan's order
      // (index or heap, not id), and deadlocked with a user's bulk change of the same conversation.
      await lockRowsInIdOrder(em, 'emails', 'thread_id = ANY(?::int[])', [merges.map((m) => m[0])]);
      await exec(em, 'UPDATE emails SET thread_id = m.keep FROM unnest(?::int[], ?::int[]) AS m(gone, keep) WHERE emails.thread_id = m.gone', [merges.map((m) => m[0]), merges.map((m) => m[1])]);
      await exec(em, 'DELETE FROM threads WHERE id = ANY(?::int[])', [merges.map((m) => m[0])]);
    }
    const touched = [...new Set([...assign.values()])];
    // Lock, then count in a statement of its own: one UPDATE … FROM (count) that waited for a concurrent delete's
    // lock on the thread would count with its older snapshot (see Migration20261201113500_thread_counts_locking).
    await exec(em, 'SELECT 1 FROM threads WHERE id = ANY(?::int[]) ORDER BY id FOR UPDATE', [touched]);
    const counted = await exec<{ id: number; n: number; last: Date | null; subject: string | null }>(
      em,
      `UPDATE threads t SET message_count = s.n, last_message_at = s.last, subject = COALESCE(NULLIF(t.subject, ''), s.subject)
       FROM (SELECT thread_id, count(*)::int AS n, max(received_at) AS last,
                    (array_agg(subject ORDER BY received_at))[1] AS subject
             FROM emails WHERE thread_id = ANY(?::int[]) GROUP BY thread_id) s
       WHERE t.id = s.thread_id
       RETURNING t.id, t.message_count AS n, t.last_message_at AS last, t.subject`,
      [touched],
    );
    // An email moved on the server back into its own thread joined nothing (that is `email.moved`).
    const before = new Map(emails.map((e) => [e.id, e.previousThreadId ?? null]));
    return threadUpdates(accountId, pairs.filter(([id, t]) => before.get(id) !== t), counted);
  }
}

/**
 * `thread.updated` for each thread that emails of this batch joined and that is a conversation now (more than one
 * message). A thread of only this batch's one email is news of `email.received` alone.
 */
function threadUpdates(
  accountId: number,
  pairs: readonly (readonly [number, number])[],
  counted: readonly { id: number; n: number; last: Date | null; subject: string | null }[],
): NewEvent<'thread.updated'>[] {
  const joined = new Map<number, number[]>();
  for (const [emailId, threadId] of pairs) (joined.get(threadId) ?? joined.set(threadId, []).get(threadId)!).push(emailId);
  return counted
    .filter((t) => t.n > 1 && joined.has(t.id))
    .map((t) => {
      const emailIds = (joined.get(t.id) ?? []).sort((a, b) => a - b);
      return {
        type: 'thread.updated' as const,
        accountId,
        // What happened: these emails joined this thread (the same batch stored again is the same event).
        identity: `${t.id}:${emailIds.join(',')}`,
        payload: { threadId: t.id, accountId, emailIds, messageCount: t.n, lastMessageAt: t.last ? new Date(t.last).toISOString() : null, subject: t.subject },
      };
    });
}
