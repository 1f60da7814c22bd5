import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDovecotUser, runDoveadm, startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder, toCrlf, withImap, type ImapCreds } from '../support/imap.js';

/** STATUS of `folder` as `creds`. */
async function status(server: DovecotServer, creds: ImapCreds, folder = 'INBOX'): Promise<{ messages: number; unseen: number }> {
  return withImap(server, creds, async (client) => {
    const s = await client.status(folder, { messages: true, unseen: true });
    if (!s) throw new Error(`no STATUS for ${folder}`);
    return { messages: s.messages ?? -1, unseen: s.unseen ?? -1 };
  });
}

describe('private Dovecot test server', () => {
  let server: DovecotServer;
  let alice: ImapCreds;
  let bob: ImapCreds;
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256))]);
  const raw = buildMessage({
    from: 'Zoë Sender <zoe@example.com>',
    to: ['Alice <alice@example.com>', 'bob@example.com'],
    subject: 'Quarterly report — ünïcode ✓',
    text: 'Hello Alice,\nthe report is attached.\r\nA long line: ' + 'x'.repeat(120) + '\nGrüße\n',
    html: '<p>Hello <b>Alice</b></p>',
    messageId: 'report-1@example.com',
    date: new Date('2024-03-04T05:06:07Z'),
    attachments: [{ filename: 'report ä.pdf', contentType: 'application/pdf', content: pdf }],
  });

  beforeAll(async () => {
    server = await startDovecot();
    alice = await server.createUser();
    bob = await server.createUser('Bob-Test', 's3cret pass');
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  }, 30_000);

  it('listens on loopback and greets', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.pid).toBeGreaterThan(0);
    const greeting = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(server.port, server.host);
      sock.once('data', (d: Buffer) => {
        sock.destroy();
        resolve(d.toString());
      });
      sock.once('error', reject);
    });
    expect(greeting).toMatch(/^\* OK .*ready/);
    expect(bob.user).toBe('bob-test');
  });

  it('builds CRLF-only messages', () => {
    expect(raw).not.toMatch(/[^\r]\n/);
    expect(raw).toMatch(/^From: =\?UTF-8\?B\?/);
    expect(raw.split('\r\n').every((l) => l.length <= 78)).toBe(true);
  });

  it('appends a message with an attachment and reads it back byte for byte', async () => {
    const { uid } = await appendMessage(server, alice, 'INBOX', raw.replace(/\r\n/g, '\n'));
    expect(uid).toBe(1);
    await withImap(server, alice, async (client) => {
      const caps = [...client.capabilities.keys()];
      expect(caps).toEqual(expect.arrayContaining(['IDLE', 'CONDSTORE', 'QRESYNC']));
      const lock = await client.getMailboxLock('INBOX');
      try {
        const msg = await client.fetchOne(String(uid), { source: true, envelope: true, bodyStructure: true }, { uid: true });
        if (!msg) throw new Error('message not found');
        expect(msg.envelope?.subject).toBe('Quarterly report — ünïcode ✓');
        expect(msg.envelope?.messageId).toBe('<report-1@example.com>');
        expect(msg.envelope?.from?.[0]?.name).toBe('Zoë Sender');
        expect(msg.source?.equals(toCrlf(raw))).toBe(true);
        const parts = msg.bodyStructure?.childNodes ?? [];
        expect(parts.map((p) => p.type)).toEqual(['multipart/alternative', 'application/pdf']);
        expect(parts[1]?.dispositionParameters?.filename).toBe('report ä.pdf');
        const { content } = await client.download(String(uid), '2', { uid: true });
        if (!content) throw new Error('no attachment content');
        const chunks: Buffer[] = [];
        for await (const c of content) chunks.push(Buffer.from(c as Uint8Array));
        expect(Buffer.concat(chunks).equals(pdf)).toBe(true);
      } finally {
        lock.release();
      }
    });
  });

  it('reports STATUS counts per user and folder', async () => {
    await appendMessage(server, alice, 'INBOX', buildMessage({ subject: 'seen one' }), ['\\Seen']);
    expect(await status(server, alice)).toEqual({ messages: 2, unseen: 1 });
    expect(await status(server, bob)).toEqual({ messages: 0, unseen: 0 });

    await createFolder(server, bob, 'Projects/Incoming');
    await createFolder(server, bob, 'Projects/Incoming'); // idempotent
    const { uid } = await appendMessage(server, bob, 'Projects/Incoming', buildMessage({ text: 'in a folder' }));
    expect(uid).toBe(1);
    expect(await status(server, bob, 'Projects/Incoming')).toEqual({ messages: 1, unseen: 1 });

    // A delivery without IMAP shows up too.
    await server.doveadm(['save', '-u', bob.user, '-m', 'INBOX'], buildMessage({ subject: 'via doveadm' }));
    await expectEventually(async () => expect((await status(server, bob)).messages).toBe(1));
    const out = await server.doveadm(['mailbox', 'status', '-u', alice.user, 'messages unseen', 'INBOX']);
    expect(out.trim()).toBe('INBOX messages=2 unseen=1');

    // The standalone forms, for test files that only get { dir, configPath } from global setup.
    const dave = await createDovecotUser(server.dir);
    await appendMessage(server, dave, 'INBOX', buildMessage({ subject: 'for dave' }));
    const daveStatus = await runDoveadm(server.configPath, ['mailbox', 'status', '-u', dave.user, 'messages', 'INBOX']);
    expect(daveStatus.trim()).toBe('INBOX messages=1');
  });

  it('rejects a wrong password', async () => {
    const started = Date.now();
    await expect(withImap(server, { ...alice, password: 'wrong' }, async () => undefined)).rejects.toThrow();
    await expect(withImap(server, { user: 'nobody-here', password: 'x' }, async () => undefined)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(4_000); // no anvil auth penalty
    await expect(server.createUser(bob.user)).rejects.toThrow(/already exists/);
    await expect(server.doveadm(['mailbox', 'status', '-u', 'nobody-here', 'messages', 'INBOX'])).rejects.toThrow(/exited with/);
  });

  it('keeps users and mail across restart() and after kill()', async () => {
    const { port, pid } = server;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect(await status(server, alice)).toEqual({ messages: 2, unseen: 1 });

    await server.kill();
    await expect(status(server, alice)).rejects.toThrow();
    await server.restart();
    expect(server.port).toBe(port);
    expect(await status(server, alice)).toEqual({ messages: 2, unseen: 1 });
    expect(await status(server, bob, 'Projects/Incoming')).toEqual({ messages: 1, unseen: 1 });
    const carol = await server.createUser();
    expect(await status(server, carol)).toEqual({ messages: 0, unseen: 0 });
  }, 30_000);

  it('stop() ends the server and removes its dir', async () => {
    const { dir } = server;
    await server.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(status(server, alice)).rejects.toThrow();
  }, 30_000);
});
