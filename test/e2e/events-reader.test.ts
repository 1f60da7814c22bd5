/** The outbox reader: seq order equals commit order, so a cursor that moves past a seen seq never skips an event. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { appendEvents, eventId, EventStream, OVERFLOW, readEvents, seqOfEvent, type NewEvent, type StoredEvent, type StreamItem } from '../../src/events/index.js';
import { exec } from '../../src/db/sql.js';
import { expectEventually } from '../support/eventually.js';
import { useOrmDatabase } from '../support/orm.js';

const t = useOrmDatabase(5);

function event(identity: string, accountId: number | null = 1): NewEvent<'sync.failed'> {
  return { type: 'sync.failed', accountId, identity, payload: { accountId: accountId ?? 0, runId: identity, error: 'x', folder: null } };
}

/** Reads everything after `cursor` the way a dispatcher does: page by page, moving the cursor to the last seq seen. */
async function drain(cursor: string, seen: StoredEvent[]): Promise<string> {
  for (;;) {
    const page = await readEvents(t.orm.em.fork(), { afterSeq: cursor, limit: 2 });
    if (page.length === 0) return cursor;
    seen.push(...page);
    cursor = page.at(-1)!.seq;
  }
}


describe('readEvents', () => {
  it('never skips an event whose transaction took a lower seq but committed later', async () => {
    const seen: StoredEvent[] = [];
    let cursor = await drain('0', seen);
    let releaseA!: () => void;
    const aHolds = new Promise<void>((r) => (releaseA = r));
    let aAppended!: () => void;
    const appended = new Promise<void>((r) => (aAppended = r));
    // A appends first (takes the lower seq) and stays open; B appends after it and would commit first.
    const a = t.orm.em.fork().transactional(async (em) => {
      await appendEvents(em, [event('order-a')]);
      aAppended();
      await aHolds;
    });
    await appended;
    const b = t.orm.em.fork().transactional((em) => appendEvents(em, [event('order-b')]));
    await new Promise((r) => setTimeout(r, 300));
    // A reader polling now must not see B ahead of A (with a bare bigserial it would, and then move past A's seq).
    cursor = await drain(cursor, seen);
    releaseA();
    await Promise.all([a, b]);
    await drain(cursor, seen);
    expect(seen.map((e) => e.id)).toEqual([eventId(event('order-a')), eventId(event('order-b'))]);
    expect(BigInt(seen[0]!.seq) < BigInt(seen[1]!.seq)).toBe(true);
  });

  it('filters by type and account, keeps seq order, and appends outside a transaction too', async () => {
    const before = await readEvents(t.orm.em.fork(), { afterSeq: 0, limit: 1000 });
    const cursor = before.at(-1)?.seq ?? '0';
    await appendEvents(t.orm.em.fork(), [event('f1', 1), event('f2', 2), event('f3', null)]);
    await appendEvents(t.orm.em.fork(), [{ type: 'email.categorized', accountId: 2, identity: 'f4', payload: { emailId: 4 } }]);
    const all = await readEvents(t.orm.em.fork(), { afterSeq: cursor, limit: 10 });
    expect(all.map((e) => e.payload.runId ?? e.payload.emailId)).toEqual(['f1', 'f2', 'f3', 4]);
    expect(all[3]).toMatchObject({ type: 'email.categorized', accountId: 2, payload: { emailId: 4 } });
    expect(all[0]!.createdAt).toBeInstanceOf(Date);
    const acct2 = await readEvents(t.orm.em.fork(), { afterSeq: cursor, limit: 10, accountIds: [2] });
    expect(acct2.map((e) => e.accountId)).toEqual([2, 2]);
    const typed = await readEvents(t.orm.em.fork(), { afterSeq: cursor, limit: 10, types: ['sync.failed'], accountIds: [1, 2] });
    expect(typed.map((e) => e.payload.runId)).toEqual(['f1', 'f2']);
    expect(await readEvents(t.orm.em.fork(), { afterSeq: cursor, limit: 1 })).toHaveLength(1);
    expect(await seqOfEvent(t.orm.em.fork(), all[1]!.id)).toBe(all[1]!.seq);
    expect(await seqOfEvent(t.orm.em.fork(), 'nope')).toBeNull();
  });

  it('orders by the numeric seq (across a digit-count boundary)', async () => {
    await appendEvents(t.orm.em.fork(), Array.from({ length: 12 }, (_, i) => event(`num-${i}`)));
    const seqs = (await readEvents(t.orm.em.fork(), { afterSeq: 0, limit: 1000 })).map((e) => BigInt(e.seq));
    expect(seqs.length).toBeGreaterThan(12);
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
  });
});

describe('EventStream', () => {
  it('delivers rows inserted without a NOTIFY through the safety poll, filtered per subscriber', async () => {
    const stream = new EventStream({ url: t.db.url, orm: t.orm, log: pino({ level: 'silent' }), pollMs: 200 });
    await stream.start();
    try {
      const all = stream.subscribe();
      const only2 = stream.subscribe((e) => e.accountId === 2);
      expect(stream.size).toBe(2);
      // A row written with plain SQL: no pg_notify, so only the poll can find it.
      await exec(t.orm.em.fork(), "INSERT INTO events (id, type, account_id, payload, created_at) VALUES ('poll-1', 'sync.failed', 1, '{}', now()), ('poll-2', 'sync.failed', 2, '{}', now())");
      const first = await all.next();
      expect((first.value as StoredEvent).id).toBe('poll-1');
      expect(((await all.next()).value as StoredEvent).id).toBe('poll-2');
      expect(((await only2.next()).value as StoredEvent).id).toBe('poll-2');
      await all.return();
      await only2.return();
      expect(stream.size).toBe(0);
    } finally {
      await stream.close();
    }
  });

  it('ends a subscriber that falls more than bufferSize events behind, and keeps serving the others', async () => {
    const stream = new EventStream({ url: t.db.url, orm: t.orm, log: pino({ level: 'silent' }), bufferSize: 4 });
    await stream.start();
    try {
      const slow = stream.subscribe();
      const fast = stream.subscribe();
      const got: StreamItem[] = [];
      const consumer = (async () => {
        for await (const e of fast) {
          got.push(e);
          if (got.length === 5) return;
        }
      })();
      await appendEvents(t.orm.em.fork(), [1, 2, 3, 4, 5].map((i) => event(`slow-${i}`)));
      await consumer;
      expect(got.map((e) => (e === OVERFLOW ? 'OVERFLOW' : e.payload.runId))).toEqual(['slow-1', 'slow-2', 'slow-3', 'slow-4', 'slow-5']);
      await expectEventually(() => expect(stream.size).toBe(0));
      expect((await slow.next()).value).toBe(OVERFLOW);
      expect((await slow.next()).done).toBe(true);
    } finally {
      await stream.close();
    }
  });

  it('close() ends every subscriber', async () => {
    const stream = new EventStream({ url: t.db.url, orm: t.orm, log: pino({ level: 'silent' }) });
    await stream.start();
    const sub = stream.subscribe();
    const pending = sub.next();
    await stream.close();
    expect((await pending).done).toBe(true);
    expect((await stream.subscribe().next()).done).toBe(true);
  });
});
