/**
 * Seeds a migrated database with synthetic mail for bench:api, straight through SQL (the sync path is measured by
 * bench:ingest). Text comes from a fixed 20,000-word vocabulary drawn with a Zipf-like skew: the first few dozen words
 * occur in about half of the emails, the tail in well under 1%, and each email has one unique reference — what
 * ranking and GIN lookups see on real mailboxes.
 */
import pg from 'pg';

/** A deterministic PRNG (mulberry32: 32-bit integer arithmetic; a plain LCG in doubles loses precision and cycles). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const VOCABULARY_SIZE = 20_000;

/** 20,000 pronounceable pseudo-words, the same on every run (French and English-like, some accented). */
export function vocabulary(): string[] {
  const onsets = ['b', 'c', 'd', 'f', 'g', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'ch', 'pr', 'tr', 'gr', 'bl', 'st', 'qu'];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'é', 'ou', 'ai', 'è', 'ea'];
  const codas = ['', 'n', 'r', 's', 't', 'l', 'x', 'nt', 'st', 'rd'];
  const out = new Set<string>();
  const rnd = prng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  while (out.size < VOCABULARY_SIZE) {
    const syllables = 1 + Math.floor(rnd() * 4);
    let w = '';
    for (let i = 0; i < syllables; i++) w += pick(onsets) + pick(vowels);
    out.add(w + pick(codas));
  }
  return [...out];
}

/**
 * The share of emails expected to contain word `index` (bodies of ~500 words drawn as index = ⌊K·u⁴⌋): ~50% at
 * index 40, ~25% at 100, ~11% at 300, ~5% at 1,000, under 1% in the tail.
 */
function wordIndex(rnd: () => number): number {
  return Math.floor(VOCABULARY_SIZE * rnd() ** 4);
}

/**
 * Inserts `n` emails for one account (90% INBOX, the rest in Sent/Archive; ~60% read; ~10% with 1–3 attachments;
 * ~20% in one of 5 categories) in batches, then VACUUM ANALYZE. Returns the attachment count and the text volume.
 */
export async function seedEmails(url: string, n: number, words: string[]): Promise<{ attachments: number; bytes: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: number }>(
      `INSERT INTO accounts (name, email, host, port, username, password_sealed, encryption, is_active, sync_folders, created_at, updated_at)
       VALUES ('Bench', 'bench@example.com', '127.0.0.1', 143, 'bench', 'x', 'none', false, '["INBOX"]', now(), now()) RETURNING id`,
    );
    const accountId = rows[0]!.id;
    await c.query(
      `INSERT INTO categories (name, slug, color, created_at, updated_at)
       SELECT 'Category ' || i, 'category-' || i, '#336699', now(), now() FROM generate_series(1, 5) i`,
    );
    const rnd = prng(7);
    const sentence = (count: number) => Array.from({ length: count }, () => words[wordIndex(rnd)]!).join(' ');
    const batch = 2000;
    for (let start = 1; start <= n; start += batch) {
      const uids = Array.from({ length: Math.min(batch, n - start + 1) }, (_, k) => start + k);
      // Every email also carries one unique reference ("ref<uid>"): the rare terms of the search mix.
      const bodies = uids.map((i) => `${sentence(80 + ((i * 7919) % 800))} ref${i}`);
      const subjects = uids.map((i) => sentence(3 + (i % 6)));
      await c.query(
        `INSERT INTO emails (account_id, folder, uid_validity, uid, message_id, header_hash, from_address, from_name,
           to_addresses, cc_addresses, subject, body_text, body_html, headers, "references", received_at, is_read, is_starred,
           is_archived, flags, has_attachments, attachment_count, size, raw_blob, created_at, updated_at)
         SELECT $1, CASE WHEN i % 10 = 0 THEN 'Sent' WHEN i % 10 = 1 THEN 'Archive' ELSE 'INBOX' END, 1, i,
           '<' || i || '@bench.example>', md5(i::text) || md5((i + 1)::text),
           'sender' || (i % 500) || '@example' || (i % 7) || '.com', 'Sender ' || (i % 500),
           jsonb_build_array(jsonb_build_object('email', 'bench@example.com', 'name', 'Bench')), '[]'::jsonb,
           subject, body, '<p>' || body || '</p>', '{"X-Mailer": "bench"}'::jsonb, '[]'::jsonb,
           now() - (i || ' minutes')::interval, i % 5 < 3, i % 20 = 0, false, '[]'::jsonb,
           i % 10 = 5, CASE WHEN i % 10 = 5 THEN 1 + i % 3 ELSE 0 END, length(body) + 800, md5(i::text) || md5(i::text), now(), now()
         FROM unnest($2::int[], $3::text[], $4::text[]) AS t(i, subject, body)`,
        [accountId, uids, subjects, bodies],
      );
    }
    await c.query(
      `INSERT INTO attachments (email_id, filename, original_filename, mime_type, file_size, is_inline, checksum, created_at)
       SELECT e.id, 'file-' || e.id || '-' || k || '.pdf', 'File ' || k || '.pdf', 'application/pdf', 20000 + (e.id * 37) % 2000000,
              false, md5(e.id::text || k) || md5(k || e.id::text), now()
       FROM emails e, LATERAL generate_series(1, e.attachment_count) k WHERE e.attachment_count > 0`,
    );
    await c.query(
      `INSERT INTO email_categories (email_id, category_id, assigned_by, created_at)
       SELECT e.id, 1 + e.id % 5, 'rule', now() FROM emails e WHERE e.id % 5 = 0`,
    );
    // What autovacuum does some minutes after a bulk insert (its insert threshold): the bench measures that steady
    // state. VACUUM also moves the full-text index's pending list (~400 pages after the seed) into the index proper;
    // every search reads the whole pending list, ~1 ms each.
    await c.query('VACUUM ANALYZE');
    const stats = await c.query<{ a: string; b: string }>(
      `SELECT (SELECT count(*) FROM attachments) AS a, (SELECT coalesce(sum(length(body_text)), 0) FROM emails) AS b`,
    );
    return { attachments: Number(stats.rows[0]!.a), bytes: Number(stats.rows[0]!.b) };
  } finally {
    await c.end();
  }
}
