/**
 * `npm run bench:reset` — a UIDVALIDITY reset of a large folder: the folder is deleted and created again on the server
 * with the same BENCH_MESSAGES (default 20,000) small messages, so every stored email must be matched by content
 * identity (Message-ID + header hash) to its new UID, keeping its id and local state. Times the first sync and the
 * resync through the API, against the ceiling measured in the same run: a plain imapflow client fetching the flags and
 * header of every message of the new folder (what the rematch needs from the server).
 */
import { startDovecot } from '../test/support/dovecot.js';
import { buildMessage, createFolder, withImap } from '../test/support/imap.js';
import { fillMaildir } from '../test/support/maildir.js';
import { apiRequest } from '../test/support/server.js';
import { benchDatabase, benchKey, startBenchServer } from './support.js';

const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const FOLDER = 'Archive';

const dovecot = await startDovecot();
const db = await benchDatabase();
const server = await startBenchServer(db.url, { SYNC_ENABLED: 'false' });
try {
  const creds = await dovecot.createUser();
  const messages = Array.from({ length: N }, (_, i) => Buffer.from(buildMessage({ subject: `old ${i}`, text: `message ${i} `.repeat(20) })));
  await createFolder(dovecot, creds, FOLDER);
  await fillMaildir(dovecot.dir, creds.user, messages, FOLDER);
  const key = await benchKey(db.url);
  const created = await apiRequest(server.url, key, '/api/accounts', {
    method: 'POST',
    json: { name: 'Reset', email: 'reset@example.com', host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', sync_folders: [FOLDER] },
  });
  if (created.status !== 201) throw new Error(created.text);
  const sync = async () => {
    const t = performance.now();
    const r = await apiRequest(server.url, key, `/api/accounts/${created.body.data.id}/sync`, { method: 'POST', json: { folder: FOLDER } });
    if (r.status !== 200) throw new Error(r.text);
    return { ms: performance.now() - t, counts: r.body.data as { new: number; updated: number; deleted: number } };
  };
  const first = await sync();

  // The same messages in a new folder of the same name: a new UIDVALIDITY.
  await withImap(dovecot, creds, async (c) => {
    await c.mailboxDelete(FOLDER);
    await c.mailboxCreate(FOLDER);
  });
  await fillMaildir(dovecot.dir, creds.user, messages, FOLDER);

  // Ceiling: flags and header of every message, nothing done with them (twice; the first pass builds Dovecot's index).
  let rawMs = 0;
  for (let pass = 0; pass < 2; pass++) {
    const t = performance.now();
    await withImap(dovecot, creds, async (c) => {
      await c.mailboxOpen(FOLDER);
      for await (const m of c.fetch('1:*', { uid: true, flags: true, headers: true })) if (!m.headers) throw new Error('no header');
    });
    rawMs = performance.now() - t;
  }
  const reset = await sync();
  if (reset.counts.updated !== N || reset.counts.new !== 0) throw new Error(`reset counts ${JSON.stringify(reset.counts)}, expected ${N} updated`);

  const rate = (ms: number) => Math.round(N / (ms / 1000));
  console.log(`bench:reset — UIDVALIDITY reset of a folder of ${N} messages\n`);
  console.log('| measure | seconds | messages/s |');
  console.log('|---|---:|---:|');
  console.log(`| first sync (API) | ${(first.ms / 1000).toFixed(2)} | ${rate(first.ms)} |`);
  console.log(`| raw: flags + header of every message (imapflow, ceiling) | ${(rawMs / 1000).toFixed(2)} | ${rate(rawMs)} |`);
  console.log(`| resync after the reset (API: every email rematched, none fetched) | ${(reset.ms / 1000).toFixed(2)} | ${rate(reset.ms)} |`);
  console.log(`\nresync vs raw: ${(reset.ms / rawMs).toFixed(1)}×`);
} finally {
  if (server.child.exitCode === null) server.child.kill('SIGTERM');
  await server.exited;
  await dovecot.stop();
  await db.drop();
}
