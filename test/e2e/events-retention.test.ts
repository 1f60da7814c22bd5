/** Outbox retention: old events go, recent ones and those the webhook dispatcher has not consumed yet stay. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { entities } from '../../src/modules/entities.js';
import { appendEvents, pruneEvents } from '../../src/events/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { sql } from '../support/sync.js';

let db: TestDatabase;
let orm: Orm;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await initOrm({ url: db.url, entities, poolMax: 3 });
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

const event = (identity: string) => ({ type: 'sync.completed' as const, accountId: null, identity, payload: { identity } as never });

describe('pruneEvents', () => {
  it('deletes events older than the retention that the dispatcher has consumed; 0 days keeps everything', async () => {
    await appendEvents(orm.em.fork(), [event('old-consumed'), event('old-pending'), event('recent')]);
    const rows = await sql<{ seq: string; identity: string }>(db.url, `SELECT seq::text, payload->>'identity' AS identity FROM events ORDER BY seq`);
    const seq = Object.fromEntries(rows.map((r) => [r.identity, r.seq]));
    await sql(db.url, `UPDATE events SET created_at = now() - interval '40 days' WHERE seq IN ($1, $2)`, [seq['old-consumed'], seq['old-pending']]);
    await sql(db.url, 'UPDATE webhook_dispatch_cursor SET last_seq = $1 WHERE id = 1', [seq['old-consumed']]);

    expect(await pruneEvents(orm, 0)).toBe(0);
    expect(await pruneEvents(orm, 30)).toBe(1);
    const left = await sql<{ identity: string }>(db.url, `SELECT payload->>'identity' AS identity FROM events ORDER BY seq`);
    expect(left.map((r) => r.identity)).toEqual(['old-pending', 'recent']);

    await sql(db.url, 'UPDATE webhook_dispatch_cursor SET last_seq = $1 WHERE id = 1', [seq['recent']]);
    expect(await pruneEvents(orm, 30)).toBe(1);
    expect(await pruneEvents(orm, 30)).toBe(0);
  });
});
