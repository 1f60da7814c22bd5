/**
 * Drift and surface checks: the checked-in SDL equals what the code emits, codegen output is current, every route of
 * the table answers behind auth, and the implemented /api paths are exactly those listed here (seed 000).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSdl, SCHEMA_FILE } from '../../src/graphql/schema.js';
import { restRoutes } from '../../src/rest/routes/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { ROOT, startTestServer, type TestServer } from '../support/server.js';

const IMPLEMENTED = [
  'POST /api/auth/validate',
  'GET /api/accounts',
  'POST /api/accounts',
  'GET /api/accounts/:id',
  'PUT /api/accounts/:id',
  'DELETE /api/accounts/:id',
  'POST /api/accounts/:id/test',
  'GET /api/accounts/:id/folders',
  'GET /api/accounts/:id/stats',
  'POST /api/accounts/:id/sync',
  'GET /api/emails/:id/attachments',
  'GET /api/attachments/:id',
  'POST /api/emails/bulk',
  'DELETE /api/emails/:id',
  'PATCH /api/emails/:id',
  'GET /api/emails',
  'GET /api/emails/search',
  'GET /api/emails/stats',
  'GET /api/emails/:id',
  'GET /api/emails/:id/raw',
  'GET /api/emails/:id/thread',
  'GET /api/folders',
  'GET /api/stats',
  'GET /api/threads',
  'GET /api/threads/:id',
  'GET /api/emails/statistics',
  'GET /api/emails/folders',
  'GET /api/emails/threads',
  'GET /api/webhooks',
  'POST /api/webhooks',
  'PUT /api/webhooks/:id',
  'DELETE /api/webhooks/:id',
  'POST /api/webhooks/:id/test',
  'GET /api/webhooks/:id/deliveries',
  'POST /api/webhooks/:id/deliveries/:deliveryId/redeliver',
];

let db: TestDatabase;
let srv: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('contract', () => {
  it('schema/schema.graphql is what the code emits (run `npm run schema:emit`)', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(await printSdl());
  });

  it('codegen output is current (run `npm run codegen`)', async () => {
    const { config } = await loadCodegenConfig({ configFilePath: path.join(ROOT, 'codegen.yml') });
    const [out] = await generate({ ...config, cwd: ROOT, silent: true }, false);
    const file = (out as { filename: string; content: string } | undefined)!;
    expect(await readFile(path.join(ROOT, file.filename), 'utf8')).toBe(file.content);
  });

  it('the route table is exactly the implemented documented paths', () => {
    expect(restRoutes.map((r) => `${r.method} ${r.path}`).sort()).toEqual([...IMPLEMENTED].sort());
  });

  it('every route requires credentials', async () => {
    for (const r of restRoutes) {
      const res = await srv.api(r.path.replace(':id', '1'), { method: r.method, auth: false });
      expect(res.status, `${r.method} ${r.path}`).toBe(401);
      expect(res.body.success).toBe(false);
    }
  });

  it('API answers are never stored by a cache (per-key data, authenticated by X-API-Key, which caches do not key on)', async () => {
    for (const [p, auth] of [['/api/accounts', undefined], ['/api/emails', undefined], ['/api/emails', false], ['/api/nothing', undefined]] as const) {
      const res = await srv.api(p, { auth });
      expect(res.headers.get('cache-control'), `${p} ${res.status}`).toBe('no-store');
    }
  });

  it('paths outside the table do not exist', async () => {
    for (const p of ['/api/voicemails', '/api/send/history']) {
      const res = await srv.api(p);
      expect(res.status, p).toBe(404);
    }
  });
});
