/**
 * The emails read API over GraphQL: keyset cursors (stable under concurrent inserts), relations through DataLoaders
 * (a constant number of SQL queries per page, counted at the pg driver), search, stats, threads and scope.
 */
import { describe, expect, inject, it } from 'vitest';
import { createDovecotUser } from '../support/dovecot.js';
import { buildMessage, toCrlf, withImap } from '../support/imap.js';
import { createAccount, day, putMail, scopedKey, syncAccount, useSeededServer } from '../support/mailbox-fixture.js';
import type { Credentials } from '../support/server.js';
import { sql } from '../support/sync.js';
import { spyOnQueries } from '../support/pg-spy.js';

const dovecot = inject('dovecot');
const t = useSeededServer(dovecot);

async function gql(query: string, variables: Record<string, unknown> = {}, auth?: Credentials) {
  const r = await t.srv.api('/graphql', { method: 'POST', json: { query, variables }, ...(auth ? { auth } : {}) });
  expect(r.status, r.text).toBe(200);
  return r.body as { data: any; errors?: { message: string; extensions: { code: string } }[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const PAGE = `query($filter: EmailFilter, $first: Int, $after: String, $sort: String, $order: String) {
  emails(filter: $filter, first: $first, after: $after, sort: $sort, order: $order) {
    totalCount page perPage
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id subject } }
    nodes { id }
  }
}`;

/** Walks a listing with first/after; `between` runs after each page (concurrent writes). */
async function walk(vars: Record<string, unknown>, between: (page: number) => Promise<void> = async () => undefined): Promise<number[]> {
  const ids: number[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page++) {
    const { data, errors } = await gql(PAGE, { ...vars, after });
    expect(errors).toBeUndefined();
    const c = data.emails;
    expect(c.nodes.map((n: { id: string }) => n.id)).toEqual(c.edges.map((e: { node: { id: string } }) => e.node.id));
    expect(c.page).toBeNull();
    ids.push(...c.nodes.map((n: { id: string }) => Number(n.id)));
    if (!c.pageInfo.hasNextPage) return ids;
    after = c.pageInfo.endCursor;
    await between(page);
  }
  throw new Error('did not end');
}


describe('emails connection', () => {
  it('first/after walks every email once, in the same order as pages, for each sort', async () => {
    for (const [sort, order] of [['received_at', 'desc'], ['subject', 'asc'], ['from_address', 'desc']]) {
      const walked = await walk({ first: 4, sort, order });
      const paged = (await t.srv.api(`/api/emails?per_page=100&sort=${sort}&order=${order}`)).body.data.map((e: { id: number }) => e.id);
      expect(walked, `${sort} ${order}`).toEqual(paged);
    }
  });

  it('page/perPage mode reports page meta and cursors', async () => {
    const { data } = await gql('{ emails(page: 2, perPage: 5) { totalCount page perPage totalPages pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } } }');
    expect(data.emails).toMatchObject({ totalCount: 14, page: 2, perPage: 5, totalPages: 3, pageInfo: { hasNextPage: true, hasPreviousPage: true } });
    const next = await gql(PAGE, { first: 5, after: data.emails.pageInfo.endCursor });
    const page3 = await gql('{ emails(page: 3, perPage: 5) { nodes { id } } }');
    expect(next.data.emails.nodes).toEqual(page3.data.emails.nodes);
  });

  it('is stable under concurrent inserts: no email is skipped or repeated', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    for (let i = 0; i < 9; i++) await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: `Stable ${i}` }), day(`2024-03-0${1 + (i % 3)}T10:00:00`));
    const account = await createAccount(t.srv, dovecot, mb, ['INBOX']);
    await syncAccount(t.srv, account);
    const before = (await t.srv.api(`/api/emails?account_id=${account}`)).body.data.map((e: { id: number }) => e.id);
    const walked = await walk({ filter: { accountId: String(account) }, first: 2 }, async (page) => {
      // Newer mail lands before the cursor, older mail after it; ties on received_at are broken by id.
      await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: `New ${page}` }), day('2024-04-01T00:00:00'));
      await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: `Tie ${page}` }), day('2024-03-02T10:00:00'));
      await syncAccount(t.srv, account);
    });
    expect(new Set(walked).size).toBe(walked.length);
    for (const id of before) expect(walked).toContain(id);
  });

  it('bad cursors and mixed modes are BAD_USER_INPUT', async () => {
    const cursor = (await gql(PAGE, { first: 1 })).data.emails.pageInfo.endCursor;
    for (const [vars, text] of [
      [{ first: 2, after: 'garbage' }, 'after'],
      [{ first: 2, after: cursor, sort: 'subject' }, 'another sort'],
      [{ first: 0 }, 'first'],
      [{ first: 2, sort: 'nope' }, 'sort'],
    ] as const) {
      const { errors } = await gql(PAGE, vars);
      expect(errors?.[0]?.extensions.code, JSON.stringify(vars)).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain(text);
    }
    // Well-formed cursors whose key is no value of the sort column (forged, or a client's own encoding): 400, not 500.
    const forged = (field: string, order: string, key: string) => Buffer.from(JSON.stringify([field, order, key, 1])).toString('base64url');
    for (const [sort, order, key] of [
      ['received_at', 'desc', 'garbage'],
      ['received_at', 'desc', '2024-13-45 00:00:00+00'],
      ['received_at', 'asc', '\u0000'],
      ['subject', 'asc', 'a\u0000b'],
    ]) {
      const { errors } = await gql(PAGE, { first: 2, sort, order, after: forged(sort!, order!, key!) });
      expect(errors?.[0]?.extensions.code, `${sort} ${JSON.stringify(key)}`).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toBe('after: invalid cursor');
    }
    const mixed = await gql('{ emails(page: 2, first: 3) { totalCount } }');
    expect(mixed.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect((await gql(PAGE, { first: 1000 })).data.emails.nodes.length).toBeLessThanOrEqual(100);
  });
});

describe('page size in cursor mode', () => {
  it('perPage with first/after is refused like page is, not ignored (it answered 50 emails when 2 were asked for)', async () => {
    const cursor = (await gql(PAGE, { first: 1 })).data.emails.pageInfo.endCursor;
    for (const args of [`perPage: 2, after: "${cursor}"`, 'perPage: 2, first: 3']) {
      const { data, errors } = await gql(`{ emails(${args}) { nodes { id } } }`);
      expect(data, args).toBeNull();
      expect(errors?.[0]?.extensions.code, args).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message, args).toContain('per_page');
    }
    expect((await gql(`{ emails(first: 2, after: "${cursor}", page: null, perPage: null) { nodes { id } } }`)).data.emails.nodes).toHaveLength(2);
  });
});

describe('relations through DataLoaders', () => {
  const FULL = `query($filter: EmailFilter, $first: Int) { emails(filter: $filter, first: $first) { nodes {
    id subject bodyHtml bodyText headers
    attachments { id filename contentId downloadUrl }
    categories { id slug }
    account { id name }
    thread { id messageCount emails { id } }
  } } }`;

  it('a page of 50 emails with every relation costs a constant number of SQL queries', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    await withImap(dovecot, mb, async (c) => {
      for (let i = 0; i < 50; i++) {
        const raw = buildMessage({
          subject: `Count ${i}`,
          html: `<p>Body ${i}</p>`,
          text: `Body ${i}`,
          messageId: `count-${i}@q.test`,
          headers: i % 2 ? { 'In-Reply-To': `<count-${i - 1}@q.test>` } : {},
          attachments: [{ filename: `f${i}.txt`, contentType: 'text/plain', content: Buffer.from(`file ${i}`) }],
        });
        await c.append('INBOX', toCrlf(raw), [], day('2024-05-01T00:00:00'));
      }
    });
    const account = await createAccount(t.srv, dovecot, mb, ['INBOX']);
    await syncAccount(t.srv, account);
    const [cat] = await sql<{ id: number }>(t.db.url, "INSERT INTO categories (name, slug, created_at, updated_at) VALUES ('Count', 'count', now(), now()) RETURNING id");
    await sql(t.db.url, 'INSERT INTO email_categories (email_id, category_id, created_at) SELECT id, $1, now() FROM emails WHERE account_id = $2', [cat!.id, account]);

    // What this server sends to PostgreSQL (support/pg-spy.ts).
    const { seen, restore } = spyOnQueries();
    const count = async (first: number) => {
      seen.length = 0;
      const { data, errors } = await gql(FULL, { filter: { accountId: String(account) }, first });
      expect(errors).toBeUndefined();
      expect(data.emails.nodes).toHaveLength(first);
      return { data, queries: seen.filter((s) => /\b(emails|attachments|email_categories|categories|threads|accounts)\b/.test(s)).length };
    };
    try {
      const small = await count(2);
      const big = await count(50);
      expect(big.queries).toBe(small.queries);
      // page (with its attachments and categories embedded) + count, bodies, accounts, threads, thread emails
      expect(big.queries).toBeGreaterThanOrEqual(5);
      expect(big.queries).toBeLessThanOrEqual(6);
      const node = big.data.emails.nodes.find((n: { subject: string }) => n.subject === 'Count 7');
      expect(node.attachments).toMatchObject([{ filename: 'f7.txt', downloadUrl: expect.stringMatching(/^\/api\/attachments\/\d+\/download$/) }]);
      expect(node.categories).toEqual([{ id: String(cat!.id), slug: 'count' }]);
      expect(node.account).toMatchObject({ id: String(account) });
      expect(node.thread.messageCount).toBe(2);
      expect(node.thread.emails).toHaveLength(2);
      expect(node.bodyHtml).toContain('Body 7');
      expect(node.headers.Subject).toBe('Count 7');
    } finally {
      restore();
    }

    // The relations read with the page (embedded) are those the loaders read one email at a time, on a page
    // behind an OFFSET and through edges too; a second category shows their order.
    const [later] = await sql<{ id: number }>(t.db.url, "INSERT INTO categories (name, slug, priority, created_at, updated_at) VALUES ('Urgent', 'urgent', 9, now(), now()) RETURNING id");
    await sql(t.db.url, "INSERT INTO email_categories (email_id, category_id, created_at) SELECT id, $1, now() FROM emails WHERE account_id = $2 AND id % 2 = 0", [later!.id, account]);
    const rel = 'id attachments { id filename mimeType fileSize isInline contentId createdAt } categories { id slug }';
    const paged = await gql(`query($f: EmailFilter) { emails(filter: $f, page: 2, perPage: 7) { nodes { ${rel} } edges { node { ${rel} } } } }`, {
      f: { accountId: String(account) },
    });
    expect(paged.errors).toBeUndefined();
    expect(paged.data.emails.nodes).toHaveLength(7);
    expect(paged.data.emails.edges.map((e: { node: unknown }) => e.node)).toEqual(paged.data.emails.nodes);
    for (const node of paged.data.emails.nodes) {
      const one = await gql(`query($id: ID!) { email(id: $id) { ${rel} } }`, { id: node.id });
      expect(node).toEqual(one.data.email);
    }
    expect(paged.data.emails.nodes.some((n: { categories: unknown[] }) => n.categories.length === 2)).toBe(true);
    for (const n of paged.data.emails.nodes) if (n.categories.length === 2) expect(n.categories.map((c: { slug: string }) => c.slug)).toEqual(['urgent', 'count']);
  });
});

describe('single email, search, stats, threads and scope over GraphQL', () => {
  it('email(id), emailRaw(id) and emailThread(id)', async () => {
    const id = String(t.fx.ids['Newsletter with logo']);
    const { data } = await gql('query($id: ID!) { email(id: $id) { id bodyHtml hasAttachments attachments { id contentId } account { id } thread { id } } emailRaw(id: $id) { bodyHtml headers } emailThread(id: $id) { id } }', { id });
    expect(data.email.bodyHtml).toContain(`/api/attachments/${data.email.attachments[0].id}/download`);
    expect(data.email.bodyHtml).not.toContain('<script>');
    expect(data.emailRaw.bodyHtml).toContain('<script>');
    expect(data.emailRaw.headers['Message-ID']).toBe('<newsletter-1@letters.test>');
    expect(data.emailThread).toEqual([{ id }]);
    const missing = await gql('{ email(id: "999999") { id } }');
    expect(missing.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it('searchEmails, emailStats, folders, threads and thread', async () => {
    const { data } = await gql(`{
      searchEmails(q: "été", limit: 5) { rank snippet email { subject } }
      emailStats(accountId: "${t.fx.accountA}") { totalEmails unreadEmails totalThreads folders { folder total unread } }
      folders(accountId: "${t.fx.accountB}") { accountId folder total unread }
      threads(accountId: "${t.fx.accountA}", perPage: 100) { totalCount nodes { id subject messageCount emails { subject } } }
    }`);
    expect(data.searchEmails).toMatchObject([{ email: { subject: "Facture de l'été" }, snippet: expect.stringContaining('<mark>été</mark>') }]);
    expect(data.emailStats).toMatchObject({ totalEmails: 13, unreadEmails: 10 });
    expect(data.folders).toEqual([{ accountId: String(t.fx.accountB), folder: 'INBOX', total: 1, unread: 1 }]);
    const conv = data.threads.nodes.find((th: { subject: string }) => th.subject === 'Invoice 2024-002');
    expect(conv.emails.map((e: { subject: string }) => e.subject)).toEqual(['Invoice 2024-002', 'Re: Invoice 2024-002']);
    const one = await gql('query($id: ID!) { thread(id: $id) { messageCount emails { subject } } }', { id: conv.id });
    expect(one.data.thread.messageCount).toBe(2);
    const short = await gql('{ searchEmails(q: "x") { rank } }');
    expect(short.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a scoped key never sees other accounts', async () => {
    const creds = await scopedKey(t.srv, [t.fx.accountB]);
    const { data } = await gql('{ emails { totalCount nodes { subject } } searchEmails(q: "invoice") { rank } emailStats { totalEmails } }', {}, creds);
    expect(data.emails).toEqual({ totalCount: 1, nodes: [{ subject: 'Secret B' }] });
    expect(data.searchEmails).toEqual([]);
    expect(data.emailStats.totalEmails).toBe(1);
    for (const q of [`{ email(id: "${t.fx.ids['Invoice 2024-002']}") { id } }`, `{ emailRaw(id: "${t.fx.ids['Invoice 2024-002']}") { id } }`, `{ emailThread(id: "${t.fx.ids['Invoice 2024-002']}") { id } }`]) {
      const r = await gql(q, {}, creds);
      expect(r.errors?.[0]?.extensions.code, q).toBe('NOT_FOUND');
    }
  });

  it('a write-only key reads no other record through a mutation result: thread, account, stats are FORBIDDEN', async () => {
    const k = await t.srv.api('/graphql', { method: 'POST', json: { query: 'mutation { createApiKey(input: {name: "writer", permissions: ["write"]}) { secret key { publicKey } } }' } });
    const writer: Credentials = { key: k.body.data.createApiKey.key.publicKey, secret: k.body.data.createApiKey.secret };
    const id = String(t.fx.ids['Re: Invoice 2024-002']);
    const update = `mutation($id: ID!) { updateEmail(id: $id, input: {}) {
      id bodyText attachments { id } categories { id } thread { id emails { bodyText } } account { id stats { totalEmails } folderStates { messages } }
    } }`;
    const r = await gql(update, { id }, writer);
    // The changed email itself stays in the result (REST PATCH answers with the full email, seed 000).
    expect(r.data.updateEmail).toMatchObject({ id, bodyText: expect.stringContaining('Thanks, paid today.'), attachments: [], categories: [], thread: null, account: null });
    expect(JSON.stringify(r)).not.toContain('Please find the invoice attached');
    const denied = (r.errors ?? []).map((e) => [(e as { path?: string[] }).path?.join('.'), e.extensions.code]);
    expect(denied.sort()).toEqual([['updateEmail.account', 'FORBIDDEN'], ['updateEmail.thread', 'FORBIDDEN']]);
    expect(r.errors?.[0]?.message).toContain('read');

    for (const field of ['stats { totalEmails }', 'folderStates { messages }']) {
      const account = await gql(`mutation { updateAccount(id: "${t.fx.accountA}", input: {}) { id ${field} } }`, {}, writer);
      expect(account.data, field).toBeNull(); // a non-null field: its error nulls the mutation's result
      expect(account.errors?.map((e) => e.extensions.code), field).toEqual(['FORBIDDEN']);
    }

    // With read, the same selections answer.
    const admin = await gql(update, { id });
    expect(admin.errors).toBeUndefined();
    expect(admin.data.updateEmail.thread.emails.map((e: { bodyText: string }) => e.bodyText)).toEqual([expect.stringContaining('Please find the invoice attached'), expect.stringContaining('Thanks')]);
    expect(admin.data.updateEmail.account.stats.totalEmails).toBe(13);
  });

  it('a document sent again runs compiled (graphql-jit) and answers exactly as the first time: data, errors, 400s', async () => {
    const id = t.fx.ids['Invoice 2024-002'];
    const send = (query: string, variables: Record<string, unknown> = {}) => t.srv.api('/graphql', { method: 'POST', json: { query, variables } });
    const cases: [string, Record<string, unknown>][] = [
      // Every relation of an email, through the loaders.
      [
        `query($id: ID!) {
          email(id: $id) { id subject receivedAt isRead toAddresses { email name } attachments { id emailId downloadUrl } categories { id } account { id } }
          emails(first: 3) { totalCount nodes { id subject } }
        }`,
        { id: String(id) },
      ],
      // A root field that fails: NOT_FOUND with its path and location; being non-null, it nulls the whole data.
      ['query($id: ID!, $gone: ID!) {\n  ok: email(id: $id) { id }\n  gone: email(id: $gone) { id }\n}', { id: String(id), gone: '99999999' }],
      // A resolver's BAD_USER_INPUT.
      ['query($q: String!) { searchEmails(q: $q, limit: 50) { rank email { id subject } } }', { q: 'x' }],
      // Invalid variables: a 400 from variable coercion, whatever the compiled form would say.
      ['query($first: Int) { emails(first: $first) { totalCount } }', { first: 'many' }],
      // A mutation (run serially) whose resolver refuses: no side effect to repeat.
      ['mutation($id: ID!) { updateEmail(id: $id, input: { isStarred: true }) { id } }', { id: '99999999' }],
    ];
    for (const [query, variables] of cases) {
      const first = await send(query, variables);
      for (let run = 2; run <= 3; run++) {
        const again = await send(query, variables);
        expect(again.status, query).toBe(first.status);
        expect(again.body, query).toEqual(first.body);
      }
    }
    const [full, gone, short, invalid] = await Promise.all(cases.slice(0, 4).map(([q, v]) => send(q, v)));
    expect(full!.body.data.email).toMatchObject({ id: String(id), subject: 'Invoice 2024-002' });
    expect(gone!.body.data).toBeNull();
    expect(gone!.body.errors).toEqual([expect.objectContaining({ path: ['gone'], locations: [{ line: 3, column: 3 }], extensions: { code: 'NOT_FOUND' } })]);
    expect(short!.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(invalid!.status).toBe(400);
  });
});

describe('several mutations in one document', () => {
  it('each result shows the state after its own mutation, not what an earlier one of the document loaded', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: 'Serial start', messageId: 'serial-1@q.test' }), day('2024-06-01T00:00:00'));
    const reply = buildMessage({ subject: 'Re: Serial start', headers: { 'In-Reply-To': '<serial-1@q.test>' } });
    await putMail(dovecot, mb, 'INBOX', reply, day('2024-06-02T00:00:00'));
    const account = await createAccount(t.srv, dovecot, mb, ['INBOX']);
    await syncAccount(t.srv, account);
    const [first, second] = (await t.srv.api(`/api/emails?account_id=${account}&order=asc`)).body.data.map((e: { id: number }) => String(e.id));
    const [cat] = await sql<{ id: number }>(t.db.url, "INSERT INTO categories (name, slug, created_at, updated_at) VALUES ('Serial', 'serial', now(), now()) RETURNING id");
    const fields = 'isStarred categories { id } thread { messageCount emails { id } }';
    const doc = `mutation($id: ID!, $other: ID!, $cat: ID!) {
      a: updateEmail(id: $id, input: { categoryIds: [] }) { ${fields} }
      b: updateEmail(id: $id, input: { categoryIds: [$cat], isStarred: true }) { ${fields} }
      gone: deleteEmail(id: $other)
      c: updateEmail(id: $id, input: {}) { ${fields} }
    }`;
    // Sent twice: the second run is compiled (graphql-jit), which must run mutations one after the other too.
    for (const run of [1, 2]) {
      if (run === 2) await putMail(dovecot, mb, 'INBOX', reply, day('2024-06-02T00:00:00')).then(() => syncAccount(t.srv, account));
      const other = run === 1 ? second : (await t.srv.api(`/api/emails?account_id=${account}&order=asc`)).body.data[1].id;
      const { data, errors } = await gql(doc, { id: first, other: String(other), cat: String(cat!.id) });
      expect(errors, `run ${run}`).toBeUndefined();
      expect(data.a, `run ${run}`).toMatchObject({ categories: [], thread: { messageCount: 2, emails: [{ id: first }, { id: String(other) }] } });
      expect(data.b, `run ${run}`).toMatchObject({ isStarred: true, categories: [{ id: String(cat!.id) }] });
      expect(data.c, `run ${run}`).toMatchObject({ isStarred: true, categories: [{ id: String(cat!.id) }], thread: { messageCount: 1, emails: [{ id: first }] } });
      await gql('mutation($id: ID!) { updateEmail(id: $id, input: { isStarred: false }) { id } }', { id: first });
    }
  });
});
