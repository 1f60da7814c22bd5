/**
 * Fills a private Dovecot user's Maildir directly (≈100× faster than IMAP APPEND; safe while Dovecot runs — it picks
 * new files up at the next SELECT/STATUS). Names follow Maildir++ with S=/W= sizes so Dovecot need not read the files
 * for RFC822.SIZE; increasing timestamps give deterministic UIDs (docs/private-dovecot.md).
 */
import { chown, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { identity } from './dovecot-process.js';

/** Writes `messages` (CRLF or LF) into `dir/mail/<user>/Maildir/new` as unseen mail, in order. */
export async function fillMaildir(dir: string, user: string, messages: readonly Buffer[], folder = 'INBOX'): Promise<void> {
  const id = await identity();
  const root = path.join(dir, 'mail', user, 'Maildir', folder === 'INBOX' ? '' : `.${folder}`);
  const base = Math.floor(Date.now() / 1000) - messages.length - 10;
  for (const [i, raw] of messages.entries()) {
    const lf = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const crlfSize = lf.length + (lf.toString('latin1').match(/\n/g)?.length ?? 0);
    const name = `${base + i}.M${i}P${process.pid}Q${i}.bench,S=${lf.length},W=${crlfSize}`;
    const tmp = path.join(root, 'tmp', name);
    await writeFile(tmp, lf);
    if (id.root) await chown(tmp, id.uid, id.gid);
    await rename(tmp, path.join(root, 'new', name));
  }
}
