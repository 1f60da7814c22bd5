/**
 * The `incoming` command's failures, as an operator meets them: usage errors exit 2 with the usage, invalid
 * configuration exits 78 naming the variable, a start-up failure of the environment (database, port) exits 1 with a
 * message saying what and where (a schema behind with MIGRATE_ON_START=false included); none of them prints a stack
 * trace. And a Node.js older than required says so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/db/embedded.js';
import { adminQuery, createTestDatabase, withDatabase } from '../support/postgres.js';
import { ROOT } from '../support/server.js';

const exec = promisify(execFile);
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-cli-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs the CLI; never touches a database unless `env` says where (every case here fails before or at connecting). */
async function cli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const r = await exec(process.execPath, [...nodeArgs, path.join(ROOT, 'bin/incoming.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
  }).then(
    (ok) => ({ code: 0, ...ok }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace, whatever happened
  return r;
}

describe('incoming CLI errors', () => {
  it('usage errors exit 2 with the usage', async () => {
    for (const args of [['--nmae', 'x'], ['keys', 'create', '--name'], ['keys', 'revoke', '1', '2'], ['migrate', 'now'], ['frobnicate']]) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain('Usage:');
    }
    expect((await cli(['--nmae', 'x'])).stderr).toContain("Unknown option '--nmae'");
    expect((await cli(['keys', 'revoke', '1', '2'])).stderr).toContain('Unexpected argument "2"');
  });

  it('invalid configuration exits 78 naming the variable', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT_FILE: '/nonexistent/port' }, /PORT_FILE: cannot read \/nonexistent\/port \(ENOENT\)/],
      [{ DATABASE_URL: 'postgres://user:pw@db.example:99999/incoming' }, /DATABASE_URL: must be a valid URL/],
      [{ DATABASE_URL: 'postgres://[db/incoming' }, /DATABASE_URL: must be a valid URL/],
      [{ PORT: '0x1f90' }, /PORT: must be a whole number/],
      [{ SHUTDOWN_TIMEOUT_MS: '5s' }, /SHUTDOWN_TIMEOUT_MS: must be a whole number/],
    ];
    for (const [env, message] of cases) {
      const r = await cli(['serve'], env);
      expect({ env, code: r.code }).toEqual({ env, code: 78 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('a HOST that does not resolve: exit 1 and a message naming HOST', async () => {
    const db = await createTestDatabase();
    const r = await cli(['serve'], { HOST: 'no-such-host.invalid', PORT: String(await freePort()), DATABASE_URL: db.url, SYNC_ENABLED: 'false' }).finally(() => db.drop());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('incoming: Cannot listen on no-such-host.invalid:');
    expect(r.stderr).toContain('HOST is no address and no name that resolves');
  });

  it('a DATA_DIR that cannot be created: exit 1 and a message naming DATA_DIR', async () => {
    const file = path.join(dataDir, 'a-file');
    await writeFile(file, '');
    const r = await cli(['keys', 'list'], { DATA_DIR: path.join(file, 'data') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`incoming: DATA_DIR ${path.join(file, 'data')} cannot be created (ENOTDIR)`);
  });

  it('a database that cannot be reached: exit 1 and a message naming it', async () => {
    const port = await freePort();
    const r = await cli(['keys', 'list'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/incoming`, DATABASE_WAIT_MS: '0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`incoming: Cannot reach PostgreSQL at 127.0.0.1:${port}`);
  });

  it('MIGRATE_ON_START=false on a database without the schema: serve and keys say to run `incoming migrate`', async () => {
    const adminUrl = inject('pgAdminUrl');
    const name = `incoming_empty_${randomBytes(4).toString('hex')}`;
    await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
    try {
      const env = { DATABASE_URL: withDatabase(adminUrl, name), MIGRATE_ON_START: 'false', PORT: String(await freePort()) };
      for (const args of [['serve'], ['keys', 'list']]) {
        const r = await cli(args, env);
        expect({ args, code: r.code }).toEqual({ args, code: 1 });
        expect(r.stderr).toMatch(/incoming: The database schema is behind: \d+ pending migration\(s\) \(Migration\w+_initial, .*MIGRATE_ON_START=false. Run `incoming migrate` first./);
      }
    } finally {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });

  it('an older Node.js says which version is needed', async () => {
    const r = await cli(['keys', 'list'], {}, ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.0"})']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Node.js >= 22.17 is required');
  });
});
