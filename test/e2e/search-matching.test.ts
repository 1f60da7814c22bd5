/**
 * What the text filters match, against the real configuration and collation of the migrations: full text is accent-
 * and case-insensitive also for words with digits ("2ème", "Réf2024") and covers Cc recipients; `from`/`subject`
 * fold the case of non-ASCII letters although the embedded cluster's locale is C; a subject-only match is highlighted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { EmailsQueryService } from '../../src/modules/emails/index.js';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase();

let service: EmailsQueryService;
const principal: Principal = { keyId: 1, name: 't', permissions: ['read'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };

let uid = 0;
async function addEmail(e: { subject: string; body: string; fromName?: string; cc?: unknown[] }): Promise<void> {
  uid++;
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, from_address, from_name, body_text, to_addresses, cc_addresses, headers, "references", received_at, flags, raw_blob, created_at, updated_at)
     VALUES ('INBOX', 1, $1, $2, $3, 'sender@example.test', $4, $5, '[]', $6, '{}', '[]', now(), '[]', $2, now(), now())`,
    [uid, String(uid).padStart(64, '0'), e.subject, e.fromName ?? null, e.body, JSON.stringify(e.cc ?? [])],
  );
}

const listed = async (filter: Record<string, string>) => (await service.list(principal, { filter })).rows.map((r) => r.subject);
const searched = async (q: string) => (await service.search(principal, q)).map((h) => h.email.subject);

beforeAll(async () => {
  service = new EmailsQueryService(t.orm);
  await addEmail({ subject: 'Livraison', body: 'Colis Réf2024 livré au 2ème étage' });
  await addEmail({ subject: 'Copie', body: 'pour info', cc: [{ email: 'carol@copies.test', name: 'Carolyne Copieuse' }] });
  await addEmail({ subject: "FACTURE DE L'ÉTÉ", body: 'rien', fromName: 'JÖHN DÖE' });
  await addEmail({ subject: 'Zebracorn sighting', body: 'Nothing about the animal in the body of this message, only other words.' });
  await addEmail({ subject: 'Quokkafest tonight', body: '\r\n  \r\n' });
});

describe('full-text matching', () => {
  it('words with digits are accent- and case-insensitive too (numword tokens)', async () => {
    for (const q of ['2eme', '2ème', 'ref2024', 'RÉF2024', 'Ref2024']) {
      expect(await searched(q), q).toEqual(['Livraison']);
      expect(await listed({ search: q }), q).toEqual(['Livraison']);
    }
  });

  it('Cc recipients are indexed (name and address)', async () => {
    expect(await searched('carolyne')).toEqual(['Copie']);
    expect(await searched('copieuse')).toEqual(['Copie']);
    expect(await listed({ search: 'carol@copies.test' })).toEqual(['Copie']);
  });
});

describe('from and subject fold non-ASCII case', () => {
  it('match whatever the case of accented letters', async () => {
    expect(await listed({ subject: "facture de l'été" })).toEqual(["FACTURE DE L'ÉTÉ"]);
    expect(await listed({ subject: 'Été' })).toEqual(["FACTURE DE L'ÉTÉ"]);
    expect(await listed({ from: 'jöhn' })).toEqual(["FACTURE DE L'ÉTÉ"]);
    expect(await listed({ from: 'Döe' })).toEqual(["FACTURE DE L'ÉTÉ"]);
  });

  it('the trigram indexes serve the filters (same collation) and agree with them', async () => {
    const c = new pg.Client({ connectionString: t.db.url });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const where = `e.subject COLLATE incoming_nocase ILIKE '%été%'`;
      const plan = (await c.query(`EXPLAIN SELECT count(*) FROM emails e WHERE ${where}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('emails_subject_trgm');
      expect((await c.query(`SELECT e.subject FROM emails e WHERE ${where}`)).rows).toEqual([{ subject: "FACTURE DE L'ÉTÉ" }]);
    } finally {
      await c.end();
    }
  });
});

describe('snippets', () => {
  it('a match only in the subject is highlighted there', async () => {
    const [hit] = await service.search(principal, 'zebracorn');
    expect(hit!.snippet).toContain('<mark>Zebracorn</mark> sighting');
  });

  it('a blank body gives the subject', async () => {
    const [hit] = await service.search(principal, 'quokkafest');
    expect(hit!.snippet).toBe('<mark>Quokkafest</mark> tonight');
  });
});
