/** The emails read API over REST, end to end: a private Dovecot mailbox synced into PostgreSQL, read over HTTP. */
import { describe, expect, inject, it } from 'vitest';
import { BULK, scopedKey, useSeededServer } from '../support/mailbox-fixture.js';
import { apiRequest } from '../support/server.js';
import { sql } from '../support/sync.js';

const dovecot = inject('dovecot');
const t = useSeededServer(dovecot);

const subjects = (r: { body: { data: { subject: string }[] } }) => r.body.data.map((e) => e.subject);
async function list(query: string) {
  const r = await t.srv.api(`/api/emails${query}`);
  expect(r.status, r.text).toBe(200);
  return r;
}


describe('GET /api/emails', () => {
  it('lists every visible email, newest first, with the documented envelope and meta', async () => {
    const r = await list('');
    expect(r.body.success).toBe(true);
    expect(r.body.meta).toEqual({ page: 1, per_page: 50, total: 14, total_pages: 1 });
    expect(r.body.data[0].subject).toBe('Archived note');
    const invoice = r.body.data.find((e: { subject: string }) => e.subject === 'Invoice 2024-002');
    expect(invoice).toMatchObject({
      id: t.fx.ids['Invoice 2024-002'],
      account_id: t.fx.accountA,
      folder: 'INBOX',
      from_address: 'billing@acme.test',
      from_name: 'Billing Team',
      to_addresses: [{ email: 'bob@example.com', name: 'Bob Receiver' }],
      cc_addresses: [],
      has_attachments: true,
      attachment_count: 1,
      is_read: false,
      categories: [],
      received_at: '2024-01-15T12:00:00Z',
    });
    expect(typeof invoice.message_uid).toBe('string');
    const slash = await t.srv.api('/api/emails/?per_page=1');
    expect(slash.status, slash.text).toBe(200);
    expect(slash.body.meta.total).toBe(r.body.meta.total);
    // Seed 000's timestamp format: whole seconds, `Z` (GraphQL's DateTime has milliseconds).
    for (const key of ['received_at', 'created_at', 'updated_at']) expect(invoice[key]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Listings leave the bodies out (GET /api/emails/{id} has them).
    expect(invoice).not.toHaveProperty('body_text');
    expect(invoice).not.toHaveProperty('headers');
  });

  it('page and per_page (default 50, over 100 clamped to 100)', async () => {
    const p2 = await list('?per_page=3&page=2');
    expect(p2.body.meta).toEqual({ page: 2, per_page: 3, total: 14, total_pages: 5 });
    const all = subjects(await list(''));
    expect(subjects(p2)).toEqual(all.slice(3, 6));
    expect((await list('?per_page=1000')).body.meta.per_page).toBe(100);
    expect((await list('?page=99')).body.data).toEqual([]);
  });

  it('pages through ties on received_at without overlap or gap (ties broken by id)', async () => {
    const seen: number[] = [];
    for (let page = 1; page <= 5; page++) seen.push(...(await list(`?per_page=3&page=${page}&folder=INBOX&from=mass.test`)).body.data.map((e: { id: number }) => e.id));
    expect(seen).toHaveLength(BULK.length);
    expect(new Set(seen).size).toBe(BULK.length);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    const asc = (await list('?from=mass.test&order=asc')).body.data.map((e: { id: number }) => e.id);
    expect(asc).toEqual([...seen].reverse());
  });

  it('account_id and folder', async () => {
    expect(subjects(await list(`?account_id=${t.fx.accountB}`))).toEqual(['Secret B']);
    expect((await list(`?account_id=${t.fx.accountA}`)).body.meta.total).toBe(13);
    expect(subjects(await list('?folder=Archive'))).toEqual(['Archived note']);
    expect((await list('?folder=Nope')).body.meta).toMatchObject({ total: 0, total_pages: 0 });
  });

  it('an empty parameter is no filter, as for every other parameter (an HTML form sends `folder=` for "all")', async () => {
    const all = (await list('?per_page=100')).body;
    for (const q of ['folder=', 'sort=', 'order=', 'folder=&sort=&order=&from=&subject=&search=&account_id=&is_read=&since=']) {
      expect((await list(`?per_page=100&${q}`)).body, q).toEqual(all);
    }
    expect((await t.srv.api('/api/emails?sort=%20')).status).toBe(400);
  });

  it('from and subject are partial, case-insensitive; LIKE wildcards are literal', async () => {
    expect(subjects(await list('?from=ACME'))).toEqual(['Invoice 2024-002']);
    expect(subjects(await list('?from=j%C3%B6hn'))).toEqual(["Facture de l'été"]);
    expect(subjects(await list('?subject=invoice&sort=received_at&order=asc'))).toEqual(['Invoice 2024-002', 'Re: Invoice 2024-002']);
    expect(subjects(await list('?subject=100%25_'))).toEqual(['Late night 100%_done']);
    expect((await list('?subject=%25')).body.meta.total).toBe(1);
  });

  it('search is full text over subject and body, accent- and case-insensitive', async () => {
    expect(subjects(await list('?search=facture')).sort()).toEqual(["Facture de l'été", 'Secret B']);
    expect(subjects(await list(`?search=${encodeURIComponent('éte')}`))).toEqual(["Facture de l'été"]);
    expect(subjects(await list('?search=INVOICE&order=asc'))).toEqual(['Invoice 2024-002', 'Re: Invoice 2024-002']);
    expect(subjects(await list('?search=paid'))).toEqual(['Re: Invoice 2024-002']);
    expect(subjects(await list(`?search=${encodeURIComponent('invoice -paid')}`))).toEqual(['Invoice 2024-002']);
    expect((await list(`?search=${encodeURIComponent('"unbalanced & | !')}`)).status).toBe(200);
  });

  it('has_attachments and is_read (0/1)', async () => {
    expect(subjects(await list('?has_attachments=1')).sort()).toEqual(['Invoice 2024-002', 'Newsletter with logo']);
    expect((await list('?has_attachments=0')).body.meta.total).toBe(12);
    expect(subjects(await list('?is_read=1')).sort()).toEqual(['Archived note', "Facture de l'été", 'Re: Invoice 2024-002']);
    expect((await list('?is_read=0&folder=INBOX')).body.meta.total).toBe(11);
    expect((await list('?is_read=0&folder=inbox')).body.meta.total).toBe(11); // INBOX is case-insensitive
  });

  it('since and until are Y-m-d days (until includes its whole day)', async () => {
    expect(subjects(await list('?since=2024-02-01'))).toEqual(['Archived note']);
    expect(subjects(await list('?until=2024-01-10'))).toEqual(["Facture de l'été"]);
    expect(subjects(await list('?since=2024-01-31&until=2024-01-31'))).toEqual(['Late night 100%_done']);
    expect((await list('?since=2024-01-11&until=2024-01-16')).body.meta.total).toBe(3);
  });

  it('sort by received_at, subject or from_address, asc or desc', async () => {
    const bySubject = subjects(await list('?sort=subject&order=asc&folder=INBOX&account_id=' + t.fx.accountA));
    expect(bySubject).toEqual([...bySubject].sort((a, b) => (a < b ? -1 : 1)));
    expect(bySubject[0]).toBe('Bulk 0');
    const desc = subjects(await list('?sort=subject'));
    expect(desc[0]).toBe('Secret B');
    const byFrom = (await list('?sort=from_address&order=asc')).body.data.map((e: { from_address: string }) => e.from_address);
    expect(byFrom).toEqual([...byFrom].sort());
    expect(subjects(await list('?sort=RECEIVED_AT&order=ASC'))[0]).toBe("Facture de l'été");
  });

  it('bad input is a 400 naming the parameter', async () => {
    for (const [q, field] of [
      ['sort=size', 'sort'],
      ['order=up', 'order'],
      ['since=2024-13-01', 'since'],
      ['until=2024-02-30', 'until'],
      ['since=yesterday', 'since'],
      ['per_page=0', 'per_page'],
      ['page=0', 'page'],
      ['page=abc', 'page'],
      ['is_read=maybe', 'is_read'],
      ['has_attachments=2', 'has_attachments'],
      ['account_id=x', 'account_id'],
      ['folder=a&folder=b', 'folder'],
      ['subject=a%00b', 'subject'],
      ['from=%00', 'from'],
      [`search=${'x'.repeat(1001)}`, 'search'],
    ]) {
      const r = await t.srv.api(`/api/emails?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.success).toBe(false);
      expect(r.body.error, q).toContain(field);
    }
    const r = await t.srv.api('/api/emails?sort=size');
    expect(r.body.error).toContain('size');
  });
});

describe('GET /api/emails/search', () => {
  it('ranks matches and highlights them in a snippet', async () => {
    const r = await t.srv.api('/api/emails/search?q=invoice');
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.map((h: { subject: string }) => h.subject).sort()).toEqual(['Invoice 2024-002', 'Re: Invoice 2024-002']);
    const top = r.body.data[0];
    expect(top.rank).toBeGreaterThan(0);
    expect(r.body.data[0].rank).toBeGreaterThanOrEqual(r.body.data[1].rank);
    const original = r.body.data.find((h: { subject: string }) => h.subject === 'Invoice 2024-002');
    expect(original.snippet).toContain('<mark>invoice</mark>');
    expect(original).toMatchObject({ id: t.fx.ids['Invoice 2024-002'], from_address: 'billing@acme.test' });
  });

  it('accents and case do not matter (French and English)', async () => {
    for (const q of ['été', 'éte', 'ete', 'ÉTÉ']) {
      const r = await t.srv.api(`/api/emails/search?q=${encodeURIComponent(q)}`);
      expect(r.body.data.map((h: { subject: string }) => h.subject), q).toEqual(["Facture de l'été"]);
    }
    const r = await t.srv.api('/api/emails/search?q=Facture');
    expect(r.body.data).toHaveLength(2);
    // The subject weighs more than the body.
    expect(r.body.data[0].subject).toBe("Facture de l'été");
    expect(r.body.data[0].snippet).toContain('<mark>facture</mark>');
  });

  it('snippets are HTML-escaped except for the highlights', async () => {
    const r = await t.srv.api('/api/emails/search?q=logo');
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toHaveLength(1);
    expect(r.body.data[0].snippet).not.toMatch(/<(?!\/?mark>)/);
  });

  it('limit defaults to 20, is clamped to 50; q needs 2 characters', async () => {
    expect((await t.srv.api('/api/emails/search?q=bulk')).body.data).toHaveLength(7);
    expect((await t.srv.api('/api/emails/search?q=bulk&limit=2')).body.data).toHaveLength(2);
    expect((await t.srv.api('/api/emails/search?q=bulk&limit=500')).status).toBe(200);
    // Characters, not UTF-16 units: one emoji (two units) or one accented letter written as e + U+0301 is one.
    for (const q of ['', '?q=a', '?q=%20%20a%20', '?q=ab%00', `?q=${'ab'.repeat(600)}`, `?q=${encodeURIComponent('🙂')}`, `?q=${encodeURIComponent('e\u0301')}`]) {
      const r = await t.srv.api(`/api/emails/search${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toContain('q');
    }
    const bad = await t.srv.api('/api/emails/search?q=bulk&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('limit');
  });
});

describe('GET /api/emails/{id}, /raw and /thread', () => {
  it('returns the documented shape with attachments, categories and sanitized HTML', async () => {
    const [cat] = await sql<{ id: number }>(t.db.url, "INSERT INTO categories (name, slug, color, created_at, updated_at) VALUES ('Invoices', 'invoices', '#f00', now(), now()) RETURNING id");
    await sql(t.db.url, 'INSERT INTO email_categories (email_id, category_id, created_at) VALUES ($1, $2, now())', [t.fx.ids['Invoice 2024-002'], cat!.id]);
    const r = await t.srv.api(`/api/emails/${t.fx.ids['Invoice 2024-002']}`);
    expect(r.status, r.text).toBe(200);
    const e = r.body.data;
    for (const key of ['id', 'account_id', 'message_uid', 'message_id', 'folder', 'from_address', 'from_name', 'to_addresses', 'cc_addresses', 'reply_to', 'subject', 'body_text', 'body_html', 'headers', 'received_at', 'read_at', 'is_read', 'is_starred', 'is_archived', 'has_attachments', 'attachment_count', 'attachments', 'categories', 'created_at', 'updated_at']) {
      expect(e, key).toHaveProperty(key);
    }
    expect(e.body_text).toContain('Please find the invoice attached');
    expect(e.message_id).toBe('<invoice-2@acme.test>');
    expect(e.headers.Subject).toBe('Invoice 2024-002');
    expect(e.attachments).toMatchObject([{ filename: 'Invoice-2024.pdf', original_filename: 'Invoice-2024.pdf', mime_type: 'application/pdf', is_inline: false, content_id: null }]);
    expect(e.categories).toEqual([{ id: cat!.id, name: 'Invoices', slug: 'invoices', color: '#f00' }]);
    const listed = (await list('?subject=Invoice 2024-002&order=asc')).body.data[0];
    expect(listed.categories).toEqual([{ id: cat!.id, name: 'Invoices', slug: 'invoices', color: '#f00' }]);

    const html = (await t.srv.api(`/api/emails/${t.fx.ids['Newsletter with logo']}`)).body.data;
    const inline = html.attachments.find((a: { content_id: string }) => a.content_id === 'logo123');
    // A signed URL: an <img> cannot send the API key (attachments.test.ts opens it).
    expect(html.body_html).toMatch(new RegExp(`src="/api/attachments/${inline.id}/download\\?inline=1&amp;expires=\\d+&amp;signature=[\\w-]+"`));
    expect(html.body_html).not.toMatch(/script|onclick|javascript:/i);

    // Reading marked both read (tested end to end in email-update.test.ts); put them back for the counts below.
    expect([e.is_read, html.is_read]).toEqual([true, true]);
    for (const subject of ['Invoice 2024-002', 'Newsletter with logo']) {
      expect((await t.srv.api(`/api/emails/${t.fx.ids[subject]}`, { method: 'PATCH', json: { is_read: false } })).status).toBe(200);
    }
  });

  it('/raw has the unsanitized HTML and every header', async () => {
    const r = await t.srv.api(`/api/emails/${t.fx.ids['Newsletter with logo']}/raw`);
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.body.data)).toEqual(['id', 'subject', 'body_text', 'body_html', 'headers']);
    expect(r.body.data.body_html).toContain('<script>alert(1)</script>');
    expect(r.body.data.headers).toMatchObject({ From: 'Newsletter <news@letters.test>', 'Content-Type': expect.stringContaining('multipart/related') });
  });

  it('/thread lists the conversation oldest first', async () => {
    const r = await t.srv.api(`/api/emails/${t.fx.ids['Re: Invoice 2024-002']}/thread`);
    expect(r.status, r.text).toBe(200);
    expect(subjects(r)).toEqual(['Invoice 2024-002', 'Re: Invoice 2024-002']);
    expect(r.body.data[0].body_text).toContain('Please find');
    // The reply names its parent as the header does, brackets included, like message_id.
    expect(r.body.data[1].in_reply_to).toBe(r.body.data[0].message_id);
    expect(r.body.data[0].message_id).toMatch(/^<[^<>]+>$/);
    const lone = await t.srv.api(`/api/emails/${t.fx.ids['Archived note']}/thread`);
    expect(subjects(lone)).toEqual(['Archived note']);
  });

  it('unknown ids are 404, malformed ids 400', async () => {
    for (const p of ['', '/raw', '/thread']) {
      expect((await t.srv.api(`/api/emails/999999${p}`)).status, p).toBe(404);
      for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
        const r = await t.srv.api(`/api/emails/${bad}${p}`);
        expect(r.status, `${bad}${p}`).toBe(400);
        expect(r.body.error).toContain('id');
      }
    }
  });

  it('HEAD answers like GET without marking the email read or queuing a write-back', async () => {
    const id = t.fx.ids['Bulk 3']!;
    const state = async () => (await sql<{ is_read: boolean; read_at: Date | null; queued: string }>(
      t.db.url,
      'SELECT is_read, read_at, (SELECT count(*) FROM write_backs w WHERE w.email_id = e.id)::text AS queued FROM emails e WHERE id = $1',
      [id],
    ))[0];
    const before = await state();
    expect(before).toMatchObject({ is_read: false, read_at: null });
    const head = await t.srv.api(`/api/emails/${id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-type')).toContain('application/json');
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(head.headers.get('x-ratelimit-limit')).not.toBeNull();
    // GraphQL over GET runs queries only (Apollo refuses HEAD): no way around it there.
    const viaGraphql = await t.srv.api(`/graphql?query=${encodeURIComponent(`mutation { openEmail(id: "${id}") { id } }`)}`, { method: 'HEAD' });
    expect(viaGraphql.status).toBeGreaterThanOrEqual(400);
    expect(await state()).toEqual(before);
    // The same status as GET for what GET refuses.
    expect((await t.srv.api('/api/emails/999999', { method: 'HEAD' })).status).toBe(404);
    expect((await t.srv.api('/api/emails/abc', { method: 'HEAD' })).status).toBe(400);
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'HEAD', auth: false })).status).toBe(401);
  });
});

describe('threads, folders and statistics', () => {
  it('GET /api/threads and /api/threads/{id}', async () => {
    const r = await t.srv.api(`/api/threads?account_id=${t.fx.accountA}&per_page=2`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.meta).toMatchObject({ page: 1, per_page: 2 });
    const all = await t.srv.api('/api/threads?per_page=100');
    const conv = all.body.data.find((th: { subject: string }) => th.subject === 'Invoice 2024-002');
    expect(conv).toMatchObject({ account_id: t.fx.accountA, message_count: 2, last_message_at: '2024-01-16T08:30:00Z' });
    const one = await t.srv.api(`/api/threads/${conv.id}`);
    expect(one.body.data.emails.map((e: { subject: string }) => e.subject)).toEqual(['Invoice 2024-002', 'Re: Invoice 2024-002']);
    expect((await t.srv.api('/api/threads/999999')).status).toBe(404);
    expect((await t.srv.api('/api/threads/x')).status).toBe(400);
    expect((await t.srv.api('/api/threads?per_page=0')).status).toBe(400);
    expect((await t.srv.api('/api/threads?per_page=500')).body.meta.per_page).toBe(100);
  });

  it('GET /api/folders with counts', async () => {
    const r = await t.srv.api(`/api/folders?account_id=${t.fx.accountA}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toEqual([
      { account_id: t.fx.accountA, folder: 'Archive', total: 1, unread: 0 },
      { account_id: t.fx.accountA, folder: 'INBOX', total: 12, unread: 10 },
    ]);
    expect((await t.srv.api('/api/folders')).body.data).toHaveLength(3);
  });

  it('GET /api/emails/stats and /api/stats', async () => {
    const r = await t.srv.api(`/api/emails/stats?account_id=${t.fx.accountA}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ total_emails: 13, unread_emails: 10, starred_emails: 1, with_attachments: 2, latest_email_at: '2024-02-01T00:00:00Z' });
    expect(r.body.data.total_threads).toBe(12);
    const all = await t.srv.api('/api/stats');
    expect(all.body.data).toEqual({ total_emails: 14, total_threads: 13, unread_emails: 11, folders: { INBOX: 13, Archive: 1 } });
    expect((await t.srv.api('/api/emails/stats?account_id=999')).status).toBe(404);
    expect((await t.srv.api('/api/folders?account_id=999')).status).toBe(404);
    expect((await t.srv.api('/api/threads?account_id=999')).status).toBe(404);
  });
});

describe('scope: a key limited to one account', () => {
  it('sees only that account and gets 404 for the others', async () => {
    const creds = await scopedKey(t.srv, [t.fx.accountB]);
    const as = (p: string) => apiRequest(t.srv.url, creds, p);
    const r = await as('/api/emails');
    expect(subjects(r)).toEqual(['Secret B']);
    expect(r.body.meta.total).toBe(1);
    expect((await as(`/api/emails?account_id=${t.fx.accountA}`)).body.data).toEqual([]);
    for (const p of ['', '/raw', '/thread']) expect((await as(`/api/emails/${t.fx.ids['Invoice 2024-002']}${p}`)).status, p).toBe(404);
    expect((await as(`/api/emails/${t.fx.ids['Secret B']}`)).status).toBe(200); // marks it read (unread: 0 below)
    expect((await as('/api/emails/search?q=facture')).body.data.map((h: { subject: string }) => h.subject)).toEqual(['Secret B']);
    expect((await as('/api/emails/stats')).body.data.total_emails).toBe(1);
    expect((await as(`/api/emails/stats?account_id=${t.fx.accountA}`)).status).toBe(404);
    expect((await as('/api/stats')).body.data).toMatchObject({ total_emails: 1, folders: { INBOX: 1 } });
    expect((await as('/api/folders')).body.data).toEqual([{ account_id: t.fx.accountB, folder: 'INBOX', total: 1, unread: 0 }]);
    const threads = await as('/api/threads');
    expect(threads.body.data.every((th: { account_id: number }) => th.account_id === t.fx.accountB)).toBe(true);
    const [foreign] = await sql<{ thread_id: number }>(t.db.url, 'SELECT thread_id FROM emails WHERE id = $1', [t.fx.ids['Invoice 2024-002']]);
    expect((await as(`/api/threads/${foreign!.thread_id}`)).status).toBe(404);
    expect((await as(`/api/threads?account_id=${t.fx.accountA}`)).status).toBe(404);
  });
});
