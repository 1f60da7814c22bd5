/**
 * Several instances started at the same moment on a new, empty database (a rolling deploy, a scaled-out first start):
 * they take turns migrating and bootstrapping, and all of them come up.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { adminQuery, withDatabase } from '../support/postgres.js';
import { spawnServer, type SpawnedServer } from '../support/server.js';
import { sql } from '../support/sync.js';

const adminUrl = inject('pgAdminUrl');
const name = `incoming_empty_${randomBytes(4).toString('hex')}`;
const servers: SpawnedServer[] = [];

afterAll(async () => {
  for (const s of servers) s.child.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
});

describe('concurrent first start', () => {
  it('three instances on an empty database all start; migrations ran once; one initial key', async () => {
    await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
    const url = withDatabase(adminUrl, name);
    const env = { DATABASE_URL: url, LOG_LEVEL: 'warn', SYNC_ENABLED: 'false' };
    const started = await Promise.allSettled([spawnServer(env), spawnServer(env), spawnServer(env)]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    expect(started.map((s) => (s.status === 'rejected' ? String(s.reason).slice(0, 500) : 'ok'))).toEqual(['ok', 'ok', 'ok']);
    for (const s of servers) expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const keys = await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM api_keys');
    expect(keys[0]!.n).toBe(1);
  }, 120_000);
});
