/**
 * A realtime client across a server restart: events keep being written (by another process) while the server it
 * listens to is SIGKILLed and a new one starts; the client reconnects with `events(after: <last seq it saw>)` and
 * ends up with every stored event exactly once, in seq order.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { appendEvents } from '../../src/events/index.js';
import { entities } from '../../src/modules/entities.js';
import { expectEventually } from '../support/eventually.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { newCredentials, spawnServer, type SpawnedServer } from '../support/server.js';
import { sql } from '../support/sync.js';
import { collect, connectWs } from '../support/ws.js';

let db: TestDatabase;
let orm: Orm;
const dirs: string[] = [];
const spawned: SpawnedServer[] = [];
const key = newCredentials();

async function instance(): Promise<SpawnedServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-restart-'));
  await chmod(dataDir, 0o711);
  dirs.push(dataDir);
  const s = await spawnServer({
    DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn', SYNC_ENABLED: 'false',
    INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret, RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
  });
  spawned.push(s);
  return s;
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await initOrm({ url: db.url, entities, poolMax: 2 });
}, 60_000);
afterAll(async () => {
  for (const s of spawned) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await orm?.close();
  await db?.drop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const QUERY = 'subscription($after: String) { events(after: $after) { seq id } }';

describe('events(after:) across a server restart', () => {
  it('a client that reconnects to the restarted server with its last seq misses nothing and gets nothing twice', async () => {
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        n++;
        await appendEvents(orm.em.fork(), [{ type: 'email.categorized', accountId: null, identity: `restart-${n}`, payload: { emailId: n, accountId: null, categories: ['x'] } }]);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const seen: { seq: string; id: string }[] = [];

    const first = await instance();
    const a = await connectWs(first.url, key);
    expect(a.outcome).toBe('connected');
    const before = collect(a.client, QUERY, { after: '0' });
    await expectEventually(() => expect(before.items.length).toBeGreaterThan(20), { timeoutMs: 20_000, intervalMs: 50 });
    first.child.kill('SIGKILL');
    await first.exited;
    seen.push(...before.items);
    await a.client.dispose();

    const second = await instance(); // events keep being written meanwhile
    const b = await connectWs(second.url, key);
    expect(b.outcome).toBe('connected');
    const after = collect(b.client, QUERY, { after: seen.at(-1)!.seq });
    await expectEventually(() => expect(after.items.length).toBeGreaterThan(20), { timeoutMs: 20_000, intervalMs: 50 });
    writing = false;
    await writer;
    const stored = await sql<{ seq: string; id: string }>(db.url, 'SELECT seq::text AS seq, id FROM events ORDER BY events.seq');
    await expectEventually(() => expect([...seen, ...after.items]).toEqual(stored), { timeoutMs: 20_000, intervalMs: 100 });
    expect(after.errors).toEqual([]);
    await b.client.dispose();
    second.child.kill('SIGTERM');
    await second.exited;
  }, 120_000);
});
