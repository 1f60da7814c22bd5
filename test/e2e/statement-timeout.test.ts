/**
 * API_STATEMENT_TIMEOUT_MS: an API read that runs too long is cancelled by PostgreSQL and answered 503 in the
 * documented envelope (it used to hold its pool connection for as long as it ran: seconds to minutes for a search with
 * hundreds of terms at 100k emails), while the same pool's other work keeps the server's default.
 */
import { RequestContext } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transientDatabaseError } from '../../src/db/conflicts.js';
import { exec } from '../../src/db/sql.js';
import { withAnyStatementTimeout, withStatementTimeout } from '../../src/db/statement-timeout.js';
import { useOrmDatabase } from '../support/orm.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { connectWs } from '../support/ws.js';
import { spyOnQueries } from '../support/pg-spy.js';

describe('the timeout on the shared pool', () => {
  // One connection: the statements below all run on it, one after the other.
  const t = useOrmDatabase(1);
  const show = async () => (await exec<{ statement_timeout: string }>(t.orm.em.fork(), 'SHOW statement_timeout'))[0]!.statement_timeout;

  it('applies inside withStatementTimeout only, and is reset for the statements outside it', async () => {
    await RequestContext.create(t.orm.em, async () => {
      expect(await show()).toBe('0');
      expect(await withStatementTimeout(250, show)).toBe('250ms');
      expect(await show()).toBe('0');
      expect(await withStatementTimeout(0, show)).toBe('0');
    });
  });

  it('statements that take any timeout leave the connection as it is', async () => {
    await RequestContext.create(t.orm.em, async () => {
      expect(await withAnyStatementTimeout(show)).toBe('0');
      expect(await withStatementTimeout(250, show)).toBe('250ms');
      expect(await withAnyStatementTimeout(show)).toBe('250ms');
      expect(await show()).toBe('0');
    });
  });

  it('cancels a statement past it, which the API answers as a 503', async () => {
    const err = await withStatementTimeout(100, () => exec(t.orm.em.fork(), 'SELECT pg_sleep(5)')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    expect(transientDatabaseError(err)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('took too long') });
  });
});

describe('API reads past API_STATEMENT_TIMEOUT_MS', () => {
  let db: TestDatabase;
  let srv: TestServer;
  beforeAll(async () => {
    db = await createTestDatabase();
    srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', API_STATEMENT_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    await srv?.close();
    await db?.drop();
  });

  /** Runs `fn` while another session holds `emails` locked (every read of it waits), released after 4 s at most. */
  async function whileEmailsLocked<T>(fn: () => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('BEGIN; LOCK TABLE emails IN ACCESS EXCLUSIVE MODE');
    const release = setTimeout(() => void c.query('ROLLBACK'), 4000);
    try {
      return await fn();
    } finally {
      clearTimeout(release);
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    }
  }

  it('a connection that serves API reads one after the other keeps their timeout (no SET / RESET per request)', async () => {
    // The first requests set the timeout on the connections they get (and start the search statistics' read).
    for (let i = 0; i < 2; i++) expect((await srv.api('/api/emails/search?q=anything')).status).toBe(200);
    // What this server sends to PostgreSQL (support/pg-spy.ts).
    const { seen, restore } = spyOnQueries();
    try {
      // Each request: the key check and rate-limit count (no timeout wanted), then the read (under the timeout).
      for (let i = 0; i < 6; i++) expect((await srv.api('/api/emails/search?q=anything')).status).toBe(200);
    } finally {
      restore();
    }
    expect(seen.filter((s) => /rate_limit_counters/.test(s)).length).toBeGreaterThanOrEqual(6);
    // Sequential requests reuse one pooled connection, already set: there were a RESET and a SET per request (12).
    // (A background statement, such as the search statistics' read, may take a connection to the default and back.)
    expect(seen.filter((s) => /statement_timeout/.test(s)).length).toBeLessThanOrEqual(2);
  });

  it('REST: 503 with Retry-After in the documented envelope, not a request that hangs', async () => {
    const started = Date.now();
    const r = await whileEmailsLocked(() => srv.api('/api/emails?search=anything'));
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.body).toEqual({ success: false, error: expect.stringContaining('took too long') });
    expect(Date.now() - started).toBeLessThan(3000);
    // The pool's connections are fine afterwards.
    expect((await srv.api('/api/emails')).status).toBe(200);
  });

  it('GraphQL: SERVICE_UNAVAILABLE for the query', async () => {
    const r = await whileEmailsLocked(() => srv.api('/graphql', { method: 'POST', json: { query: '{ emails(perPage: 5) { totalCount } }' } }));
    expect(r.status).toBe(200);
    expect(r.body.errors[0]).toMatchObject({ message: expect.stringContaining('took too long'), extensions: { code: 'SERVICE_UNAVAILABLE' } });
  });

  it('WebSocket: SERVICE_UNAVAILABLE for the query', async () => {
    const { client } = await connectWs(srv.url, srv);
    try {
      const result = await whileEmailsLocked(
        () =>
          new Promise<{ errors?: { message: string; extensions?: { code?: string } }[] }>((resolve, reject) => {
            let got = {};
            client.subscribe({ query: '{ emails(perPage: 5) { totalCount } }' }, { next: (r) => (got = r), error: reject, complete: () => resolve(got) });
          }),
      );
      expect(result.errors?.[0]).toMatchObject({ message: expect.stringContaining('took too long'), extensions: { code: 'SERVICE_UNAVAILABLE' } });
    } finally {
      await client.dispose();
    }
  });
});
