/**
 * A database that hangs rather than goes away (its processes stopped, as packets dropped during a failover look from
 * here): /readyz answers 503 within its bound instead of hanging with it, and 200 again once the database answers.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { processesIn } from '../../src/db/embedded-process.js';
import { READINESS_TIMEOUT_MS } from '../../src/db/readiness.js';
import { startTestServer, type TestServer } from '../support/server.js';

let dir: string;
let postgres: EmbeddedDatabase;
let srv: TestServer;
let stopped: number[] = [];

const resume = () => {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  stopped = [];
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'incoming-db-hang-'));
  await chmod(dir, 0o711);
  postgres = await startEmbeddedPostgres(dir, pino({ level: 'warn' }));
  srv = await startTestServer(postgres.url, { SYNC_ENABLED: 'false' });
}, 120_000);

afterAll(async () => {
  resume();
  await srv?.close();
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a database that hangs', () => {
  it('turns /readyz 503 within its bound, and 200 once the database answers again', async () => {
    expect((await srv.api('/readyz', { auth: false })).status).toBe(200);
    stopped = processesIn(path.join(dir, 'postgres'));
    expect(stopped.length).toBeGreaterThan(0);
    for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    try {
      const t = Date.now();
      const r = await srv.api('/readyz', { auth: false });
      expect(Date.now() - t).toBeLessThan(READINESS_TIMEOUT_MS + 1500);
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ status: 'not ready', reason: `database did not answer within ${READINESS_TIMEOUT_MS} ms` });
    } finally {
      resume();
    }
    expect((await srv.api('/readyz', { auth: false })).status).toBe(200);
  }, 60_000);
});
