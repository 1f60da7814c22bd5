/**
 * Seed 004's thread features over real HTTP, against a synced private Dovecot mailbox: `thread_count` on listing items,
 * `thread_emails` in the detail, the threaded view (`thread=true`, one item per thread) and seed 004's spellings of
 * the listing parameters (q, date_from, date_to, ordering, page_size, imap_server); and the same through GraphQL.
 * The fixture's one conversation: "Invoice 2024-002" (billing@acme.test) and its reply "Re: Invoice 2024-002" (bob).
 */
import { describe, expect, inject, it } from 'vitest';
import { buildMessage } from '../support/imap.js';
import { day, putMail, syncAccount, useSeededServer } from '../support/mailbox-fixture.js';

const dovecot = inject('dovecot');
const t = useSeededServer(dovecot);

type Item = { id: number; subject: string; thread_id: number | null; thread_count: number };
async function list(query: string): Promise<{ data: Item[]; meta: { total: number; per_page: number } }> {
  const r = await t.srv.api(`/api/emails${query}`);
  expect(r.status, r.text).toBe(200);
  return r.body;
}
const subjects = (b: { data: Item[] }) => b.data.map((e) => e.subject);

describe('thread_count and thread_emails', () => {
  it('every listing item carries its thread size: 2 for the conversation, 1 for the others', async () => {
    const all = await list('?per_page=100');
    const bySubject = Object.fromEntries(all.data.map((e) => [e.subject, e]));
    expect(bySubject['Invoice 2024-002']!.thread_count).toBe(2);
    expect(bySubject['Re: Invoice 2024-002']!.thread_count).toBe(2);
    expect(bySubject['Invoice 2024-002']!.thread_id).toBe(bySubject['Re: Invoice 2024-002']!.thread_id);
    expect(bySubject['Archived note']!.thread_count).toBe(1);
    // The threads listing (seed 004's /api/emails/threads/) too, beside its message_count.
    const threads = await t.srv.api('/api/emails/threads?per_page=100');
    const conv = threads.body.data.find((x: { subject: string }) => x.subject === 'Invoice 2024-002');
    expect(conv).toMatchObject({ thread_id: conv.id, thread_count: 2, message_count: 2 });
  });

  it('the detail lists the other emails of its thread with their bodies, oldest first; none for a lone email', async () => {
    const r = await t.srv.api(`/api/emails/${t.fx.ids['Invoice 2024-002']}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.thread_count).toBe(2);
    expect(r.body.data.thread_emails).toEqual([
      expect.objectContaining({ id: t.fx.ids['Re: Invoice 2024-002'], subject: 'Re: Invoice 2024-002', body_text: expect.stringMatching(/^Thanks, paid today\./), folder: 'INBOX', thread_count: 2 }),
    ]);
    const reply = await t.srv.api(`/api/emails/${t.fx.ids['Re: Invoice 2024-002']}`, { method: 'HEAD' });
    expect(reply.status).toBe(200);
    const lone = await t.srv.api(`/api/emails/${t.fx.ids['Archived note']}`);
    expect(lone.body.data.thread_emails).toEqual([]);
  });
});

describe('GET /api/emails?thread=true (seed 004 threaded view)', () => {
  it('one item per thread, its newest email; the total counts threads', async () => {
    const flat = await list('?per_page=100');
    const threaded = await list('?thread=true&per_page=100');
    expect(threaded.meta.total).toBe(flat.meta.total - 1);
    expect(threaded.data).toHaveLength(flat.data.length - 1);
    expect(subjects(threaded)).toContain('Re: Invoice 2024-002');
    expect(subjects(threaded)).not.toContain('Invoice 2024-002');
    expect(new Set(threaded.data.map((e) => e.thread_id)).size).toBe(threaded.data.length);
    // Same order as the flat listing, minus the older message of the conversation.
    expect(subjects(threaded)).toEqual(subjects(flat).filter((s) => s !== 'Invoice 2024-002'));
    expect((await list('?thread=0&per_page=100')).meta.total).toBe(flat.meta.total);
    expect((await t.srv.api('/api/emails?thread=maybe')).status).toBe(400);
  });

  it('filters pick the newest matching email of each thread, and pages do not overlap', async () => {
    // Only the first message of the conversation is from billing: it stands for its thread.
    expect(subjects(await list('?thread=1&from=billing'))).toEqual(['Invoice 2024-002']);
    const p1 = await list('?thread=true&page_size=5&page=1');
    const p2 = await list('?thread=true&page_size=5&page=2');
    expect(p1.meta.per_page).toBe(5);
    expect(p1.data.map((e) => e.id).filter((id) => p2.data.some((x) => x.id === id))).toEqual([]);
  });
});

describe("seed 004's parameter spellings", () => {
  it('q, date_from, date_to, ordering, page_size and imap_server act as search, since, until, sort/order, per_page and account_id', async () => {
    expect(await list('?q=invoice&per_page=100')).toEqual(await list('?search=invoice&per_page=100'));
    const dates = await list('?date_from=2024-01-15&date_to=2024-01-16');
    expect(subjects(dates)).toEqual(['Re: Invoice 2024-002', 'Invoice 2024-002']);
    expect(subjects(await list('?ordering=date&page_size=2'))).toEqual(subjects(await list('?order=asc&per_page=2')));
    expect(subjects(await list('?ordering=-date&page_size=3'))).toEqual(subjects(await list('?per_page=3')));
    expect(subjects(await list('?ordering=subject&page_size=4'))).toEqual(subjects(await list('?sort=subject&order=asc&per_page=4')));
    expect(subjects(await list('?ordering=-subject&page_size=4'))).toEqual(subjects(await list('?sort=subject&order=desc&per_page=4')));
    expect((await list(`?imap_server=${t.fx.accountB}`)).data.map((e) => e.subject)).toEqual(['Secret B']);
    expect((await list('?page_size=2')).meta.per_page).toBe(2);
  });

  it('page_size pages every list (threads, a thread, an email\'s thread); imap_server filters the threads', async () => {
    const threads = await t.srv.api('/api/emails/threads?page_size=2');
    expect(threads.body.meta).toMatchObject({ per_page: 2 });
    expect(threads.body.data).toHaveLength(2);
    const conv = t.fx.ids['Invoice 2024-002'];
    const thread = await t.srv.api(`/api/emails/${conv}/thread?page_size=1&page=2`);
    expect(thread.body.meta).toEqual({ page: 2, per_page: 1, total: 2, total_pages: 2 });
    expect(thread.body.data.map((e: Item) => e.subject)).toEqual(['Re: Invoice 2024-002']);
    const byId = await t.srv.api(`/api/threads/${thread.body.data[0].thread_id}?page_size=1`);
    expect(byId.body.data.emails.map((e: Item) => e.subject)).toEqual(['Invoice 2024-002']);
    const ofB = await t.srv.api(`/api/emails/threads?imap_server=${t.fx.accountB}`);
    expect(ofB.body.data.map((x: { subject: string }) => x.subject)).toEqual(['Secret B']);
    expect((await t.srv.api('/api/threads?page_size=2&per_page=3')).status).toBe(400);
  });

  it('bad or conflicting values are 400s naming the parameter', async () => {
    const bad = async (query: string, message: RegExp) => {
      const r = await t.srv.api(`/api/emails${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body).toEqual({ success: false, error: expect.stringMatching(message) });
    };
    await bad('?ordering=size', /^ordering: unknown field/);
    await bad('?ordering=-date&sort=subject', /^ordering: cannot be combined/);
    await bad('?page_size=5&per_page=10', /^page_size: same parameter as per_page/);
    await bad('?q=foo&search=bar', /^q: same parameter as search/);
    await bad('?date_from=27/11/2024', /^since: must be a date/);
    await bad('?imap_server=x', /^account_id: must be an integer/);
    // The same value under both names is no conflict.
    expect((await t.srv.api('/api/emails?page_size=5&per_page=5')).status).toBe(200);
  });
});

describe('GraphQL', () => {
  it('emails(filter: {threaded: true}) with threadCount and threadEmails', async () => {
    const r = await t.srv.api('/graphql', {
      method: 'POST',
      json: { query: '{ emails(filter: {threaded: true, subject: "invoice"}) { totalCount nodes { subject threadCount threadEmails(limit: 5) { subject bodyText } } } }' },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.emails).toEqual({
      totalCount: 1,
      nodes: [{ subject: 'Re: Invoice 2024-002', threadCount: 2, threadEmails: [{ subject: 'Invoice 2024-002', bodyText: 'Please find the invoice attached. Regards, ACME' }] }],
    });
  });
});

describe('threaded view and snapshots', () => {
  // Last in the file: it adds a reply to the fixture's conversation.
  it('a reply stored after the snapshot hides neither itself nor its thread from the later pages', async () => {
    const first = await t.srv.api('/api/emails?thread=true&per_page=2');
    const snapshot = first.headers.get('x-listing-snapshot')!;
    const pages = Math.ceil(first.body.meta.total / 2);
    const raw = buildMessage({ subject: 'Re: Re: Invoice 2024-002', headers: { 'In-Reply-To': '<invoice-2@acme.test>' } });
    await putMail(dovecot, t.fx.mailboxA, 'INBOX', raw, day('2024-01-17T00:00:00'));
    await syncAccount(t.srv, t.fx.accountA);
    const seen: string[] = subjects(first.body);
    for (let page = 2; page <= pages; page++) seen.push(...subjects(await list(`?thread=true&per_page=2&page=${page}&snapshot=${snapshot}`)));
    expect(seen).toContain('Re: Invoice 2024-002');
    expect(seen).not.toContain('Re: Re: Invoice 2024-002');
    // Without the snapshot the new reply stands for the thread.
    expect(subjects(await list('?thread=true&per_page=100'))).toContain('Re: Re: Invoice 2024-002');
  });
});
