/**
 * Offset pages stable under arriving mail: the first page of `GET /api/emails` reports its snapshot (the
 * X-Listing-Snapshot header; GraphQL `emails { snapshot }`), and later pages asked with `snapshot=` leave out what was
 * stored since, so new mail does not shift them (issue 4: "page/per_page for REST; both stable under concurrent
 * inserts"). Without it, a message arriving between two pages repeats the last email of the first page.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

const env = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });

const subjects = (r: { body: { data: { subject: string }[] } }) => r.body.data.map((e) => e.subject);

describe('GET /api/emails with snapshot', () => {
  it('pages asked with the first page\'s snapshot are not shifted by new mail; without it they are', async () => {
    const acc = await syncedAccount(env, ['m1', 'm2', 'm3', 'm4', 'm5']);
    const base = `/api/emails?account_id=${acc.accountId}&per_page=2&sort=received_at&order=desc`;
    const first = await env.srv.api(base);
    expect(first.status, first.text).toBe(200);
    const snapshot = first.headers.get('x-listing-snapshot');
    expect(snapshot).toMatch(/^\d+$/);
    expect(Number(snapshot)).toBe(Math.max(...acc.ids.values()));
    // The documented meta is unchanged: exactly the four page fields.
    expect(first.body.meta).toEqual({ page: 1, per_page: 2, total: 5, total_pages: 3 });
    const all = subjects(await env.srv.api(`${base.replace('per_page=2', 'per_page=10')}`));

    // New mail arrives between the first and the second page.
    await appendMessage(env.dovecot, acc.creds, 'INBOX', buildMessage({ subject: 'late arrival' }));
    await expectEventually(async () => {
      expect(await sql(env.dbUrl, 'SELECT 1 FROM emails WHERE account_id = $1 AND subject = $2', [acc.accountId, 'late arrival'])).toHaveLength(1);
    }, { timeoutMs: 20_000, intervalMs: 100 });

    const shifted = await env.srv.api(`${base}&page=2`);
    expect(subjects(shifted)).toEqual(all.slice(1, 3)); // the first page's last email again

    const second = await env.srv.api(`${base}&page=2&snapshot=${snapshot}`);
    expect(second.status, second.text).toBe(200);
    expect(subjects(second)).toEqual(all.slice(2, 4));
    expect(second.body.meta).toEqual({ page: 2, per_page: 2, total: 5, total_pages: 3 });
    expect(second.headers.get('x-listing-snapshot')).toBe(snapshot);
    const third = await env.srv.api(`${base}&page=3&snapshot=${snapshot}`);
    expect(subjects(third)).toEqual(all.slice(4, 5));

    // GraphQL page mode: the same snapshot and the same page.
    const g = await env.srv.api('/graphql', {
      method: 'POST',
      json: {
        query: 'query($s: ID, $a: ID) { emails(page: 2, perPage: 2, snapshot: $s, filter: { accountId: $a }) { nodes { subject } totalCount snapshot } }',
        variables: { s: snapshot, a: String(acc.accountId) },
      },
    });
    expect(g.body.errors).toBeUndefined();
    expect(g.body.data.emails).toEqual({ nodes: all.slice(2, 4).map((subject) => ({ subject })), totalCount: 5, snapshot });
    // A new listing (no snapshot) reports a newer one.
    const fresh = await env.srv.api(base);
    expect(Number(fresh.headers.get('x-listing-snapshot'))).toBeGreaterThan(Number(snapshot));
    expect(subjects(fresh)[0]).toBe('late arrival');
  }, 60_000);

  it('a snapshot that is not an email id is a 400 naming it; an empty one is none', async () => {
    for (const bad of ['abc', '-1', '1.5', '99999999999', '2147483648']) {
      const r = await env.srv.api(`/api/emails?snapshot=${encodeURIComponent(bad)}`);
      expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
      expect(r.body.success).toBe(false);
      expect(r.body.error).toContain('snapshot');
    }
    const empty = await env.srv.api('/api/emails?snapshot=');
    expect(empty.status, empty.text).toBe(200);
    const zero = await env.srv.api('/api/emails?snapshot=0');
    expect(zero.status, zero.text).toBe(200);
    expect(zero.body.data).toEqual([]);
    expect(zero.body.meta.total).toBe(0);
  });
});
