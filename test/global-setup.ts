/**
 * Global setup for the database-backed projects: PostgreSQL (DATABASE_URL, else an embedded cluster in a temp
 * DATA_DIR), one migrated template database, and one private Dovecot. Connection facts reach test files through
 * vitest's provide/inject. Missing Dovecot fails the run with the package to install; nothing is skipped.
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { initOrm, migrateUp } from '../src/db/orm.js';
import { entities } from '../src/modules/entities.js';
import { adminQuery, withDatabase } from './support/postgres.js';
import { startDovecot } from './support/dovecot.js';
import { unsupportedNode } from '../bin/node-version.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tooOld = unsupportedNode();
  if (tooOld) throw new Error(`${tooOld}: run \`source .ci/node-env.sh\` first, as .ci/run does.`);
  const log = pino({ level: 'warn' });
  const dovecot = await startDovecot();
  let embedded: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  let template: string | undefined;
  const teardown = async () => {
    if (adminUrl && template) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`).catch(() => undefined);
    await dovecot.stop();
    if (embedded) await embedded.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    if (!adminUrl) {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-pg-'));
      await chmod(dataDir, 0o711);
      embedded = await startEmbeddedPostgres(dataDir, log);
      adminUrl = embedded.url;
    }
    template = `incoming_tpl_${process.pid}_${Date.now().toString(36)}`;
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await adminQuery(adminUrl, `CREATE DATABASE "${template}"`);
    const orm = await initOrm({ url: withDatabase(adminUrl, template), entities, poolMax: 1 });
    try {
      await migrateUp(orm);
    } finally {
      await orm.close();
    }
  } catch (err) {
    // A failed setup gets no teardown call from vitest: stop what it started (an embedded cluster would outlive us).
    await teardown().catch(() => undefined);
    throw err;
  }
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);
  project.provide('dovecot', { host: dovecot.host, port: dovecot.port, dir: dovecot.dir, configPath: dovecot.configPath });
  return teardown;
}
