/**
 * Search snippets come from a window around the first occurrence of the query's first word, so a match deep in a long
 * body is highlighted; without a verbatim occurrence the window is the body's start. Also the word picked from the
 * query (websearch syntax).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EmailsQueryService } from '../../src/modules/emails/index.js';
import { firstWord } from '../../src/modules/emails/email-query.js';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase();

let service: EmailsQueryService;
const principal: Principal = { keyId: 1, name: 't', permissions: ['read'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };

async function addEmail(uid: number, subject: string, body: string): Promise<void> {
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, body_text, to_addresses, cc_addresses, headers, "references", received_at, flags, raw_blob, created_at, updated_at)
     VALUES ('INBOX', 1, $1, $2, $3, $4, '[]', '[]', '{}', '[]', now(), '[]', $2, now(), now())`,
    [uid, String(uid).padStart(64, '0'), subject, body],
  );
}

const filler = (n: number) => Array.from({ length: n }, (_, i) => `filler${i % 50}`).join(' ');

beforeAll(async () => {
  service = new EmailsQueryService(t.orm);
  await addEmail(1, 'Deep match', `${filler(2000)} the zanzibarquux shipment arrived ${filler(200)}`);
  await addEmail(2, 'Accent only', `${filler(20)} Réunion à Noël ${filler(2000)}`);
  await addEmail(3, 'Capitalized deep', `${filler(2000)} Krakatoawidget came in capitals: KRAKATOAWIDGET ${filler(200)}`);
  await addEmail(4, 'Mixed case deep', `${filler(2000)} the mIxEdwordz arrived ${filler(200)}`);
  await addEmail(5, 'Accented capital deep', `${filler(2000)} École zorglubienne fermée, ÉCOLE ${filler(200)}`);
});

describe('search snippets', () => {
  it('highlights a match deep in a long body (past the first 10,000 characters)', async () => {
    const [hit] = await service.search(principal, 'zanzibarquux');
    expect(hit!.email.subject).toBe('Deep match');
    expect(hit!.snippet).toContain('<mark>zanzibarquux</mark> shipment');
  });

  it('finds the first occurrence Capitalized, in capitals or in any case, deep in the body', async () => {
    const [capital] = await service.search(principal, 'krakatoawidget');
    expect(capital!.snippet).toContain('<mark>Krakatoawidget</mark> came');
    const [mixed] = await service.search(principal, 'MIXEDWORDZ');
    expect(mixed!.snippet).toContain('<mark>mIxEdwordz</mark> arrived');
  });

  it('finds a word that starts with an accented letter Capitalized deep in the body (whatever the database locale)', async () => {
    const [hit] = await service.search(principal, 'école zorglubienne');
    expect(hit!.email.subject).toBe('Accented capital deep');
    expect(hit!.snippet).toContain('<mark>École</mark> <mark>zorglubienne</mark> fermée');
  });

  it('a match found only accent-insensitively still gets a snippet (from the body start)', async () => {
    const [hit] = await service.search(principal, 'noel');
    expect(hit!.email.subject).toBe('Accent only');
    expect(hit!.snippet).toContain('<mark>Noël</mark>');
  });

  it('firstWord: the first required word of a websearch query', () => {
    expect(firstWord('-spam Invoice')).toBe('Invoice');
    expect(firstWord('"quarterly report" 2026')).toBe('quarterly');
    expect(firstWord('or été')).toBe('été');
    expect(firstWord('-"a b" c')).toBe('c');
    expect(firstWord('facture:')).toBe('facture');
    expect(firstWord('  ')).toBe('');
  });
});
