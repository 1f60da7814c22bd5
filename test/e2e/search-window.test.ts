/**
 * The candidate window of ranked search (search-window.ts): sized from PostgreSQL's statistics, and never a cause of
 * different results. The same searches run with no window, the window the statistics give, windows too small to hold
 * the candidates (the fallback in the statement) and a window that starts on a timestamp shared by several emails.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EmailsQueryService } from '../../src/modules/emails/index.js';
import { estimateFrequency, SearchWindows } from '../../src/modules/emails/search-window.js';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase();
const principal: Principal = { keyId: 1, name: 't', permissions: ['read'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };
const EMAILS = 12_000;
const BASE = Date.parse('2026-06-01T00:00:00Z');
/** Email i was received at BASE + floor(i / 3) minutes: every timestamp is shared by three emails. */
const receivedAt = (i: number) => new Date(BASE + Math.floor(i / 3) * 60_000);

let windows: SearchWindows;
let accountId: number;

beforeAll(async () => {
  // alpha: 10% (and 1–3 times, so ranks differ), beta: 50%, gamma: 1%, délta: 8% (accented, in capitals), one word per email.
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, body_text, to_addresses, cc_addresses, headers,
                         "references", received_at, flags, raw_blob, created_at, updated_at)
     SELECT 'INBOX', 1, i, lpad(i::text, 64, '0'), 'mail ' || i,
            concat_ws(' ', 'word' || i,
                      CASE WHEN i % 10 = 0 THEN repeat('Alpha ', 1 + i % 3) END,
                      CASE WHEN i % 2 = 0 THEN 'beta' END,
                      CASE WHEN i % 100 = 7 THEN 'gamma' END,
                      CASE WHEN i % 12 = 3 THEN 'DÉLTA' END, 'filler text'),
            '[]', '[]', '{}', '[]', $1::timestamptz + (i / 3) * interval '1 minute', '[]', lpad(i::text, 64, '0'), now(), now()
     FROM generate_series(0, $2::int - 1) i`,
    [new Date(BASE), EMAILS],
  );
  // Every third email belongs to an account, for the scoped key below; the others to none.
  const [account] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
     VALUES ('A', 'a@example.com', '127.0.0.1', 143, 'a', 'x', '["INBOX"]', now(), now()) RETURNING id`,
  );
  accountId = account!.id;
  await sql(t.db.url, 'UPDATE emails SET account_id = $1 WHERE uid % 3 = 0', [accountId]);
  await sql(t.db.url, 'ANALYZE emails');
  windows = new SearchWindows(() => t.orm.em.fork(), { minMatches: 500 });
  await windows.load();
});

/** Everything a search answers, in order. */
async function answer(service: EmailsQueryService, q: string, limit: number, as: Principal = principal) {
  return (await service.search(as, q, limit)).map((h) => [h.email.id, h.rank, h.snippet]);
}

describe('search candidate window', () => {
  it('is sized from the statistics: mid-frequency words get a window, common words, or-queries and rare pairs do not', () => {
    const alpha = windows.threshold('alpha');
    expect(alpha).toBeInstanceOf(Date);
    // ~2.5 × 200 matches of a 10% word: the window starts around the 5,000th most recent email, never later.
    expect(alpha!.getTime()).toBeLessThanOrEqual(receivedAt(EMAILS - 4500).getTime());
    expect(alpha!.getTime()).toBeGreaterThan(receivedAt(EMAILS - 9000).getTime());
    expect(windows.threshold('Délta')).toBeInstanceOf(Date); // accents and case as websearch_to_tsquery folds them
    expect(windows.threshold('beta')).toBeNull(); // 50%: the received_at walk is cheaper
    expect(windows.threshold('alpha or gamma')).toBeNull();
    expect(windows.threshold('gamma délta')).toBeNull(); // 0.08%: a window would hold too few
    expect(windows.threshold("!!")).toBeNull();
    expect(windows.threshold("word17")).toBeNull(); // in one email: not listed
  });

  it('estimates a query from its required words only', () => {
    const stats = new Map([['alpha', 0.1], ['beta', 0.5]]);
    expect(estimateFrequency('alpha', stats)).toBe(0.1);
    expect(estimateFrequency('Alpha beta', stats)).toBeCloseTo(0.05);
    expect(estimateFrequency('alpha -beta', stats)).toBe(0.1);
    expect(estimateFrequency('"alpha beta"', stats)).toBeCloseTo(0.05);
    expect(estimateFrequency('unknown', stats)).toBeNull(); // one email or thousands: no estimate
    expect(estimateFrequency('alpha unknown', stats)).toBeNull();
    expect(estimateFrequency('alpha OR beta', stats)).toBeNull();
    expect(estimateFrequency('-alpha', stats)).toBeNull();
  });

  it('never changes the results: no window, the estimated one, too small ones and one starting on a shared timestamp', async () => {
    const fixed = (at: Date | null) => new EmailsQueryService(t.orm, { threshold: () => at });
    const windowsOf = [
      windows.threshold('alpha'),
      receivedAt(EMAILS - 30), // holds 3 alpha matches: falls back to all mail
      receivedAt(EMAILS - 2001), // exactly 200 alpha matches
      receivedAt(EMAILS - 1990), // 199: falls back
      new Date(BASE + 10 ** 12), // after every email
    ];
    for (const q of ['alpha', 'délta', 'délta -beta', 'alpha -gamma', 'gamma', 'alpha beta']) {
      const expected = await answer(fixed(null), q, 50);
      expect(expected.length, q).toBeGreaterThan(0);
      for (const at of windowsOf) expect(await answer(fixed(at), q, 50), `${q} from ${at?.toISOString()}`).toEqual(expected);
    }
  });

  it('a scoped key gets the same results whatever the window (the window is sized for all the mail)', async () => {
    const scoped: Principal = { ...principal, accountIds: [accountId] };
    const fixed = (at: Date | null) => new EmailsQueryService(t.orm, { threshold: () => at });
    for (const q of ['alpha', 'délta']) {
      const expected = await answer(fixed(null), q, 50, scoped);
      expect(expected.length, q).toBe(50);
      for (const at of [windows.threshold(q), receivedAt(EMAILS - 1000)]) {
        expect(await answer(fixed(at), q, 50, scoped), `${q} from ${at?.toISOString()}`).toEqual(expected);
      }
    }
  });

  it('a service reading its own statistics answers the same', async () => {
    const own = new EmailsQueryService(t.orm);
    await own.search(principal, 'alpha'); // starts reading the statistics
    await new Promise((r) => setTimeout(r, 200));
    const plain = new EmailsQueryService(t.orm, { threshold: () => null });
    expect(await answer(own, 'alpha', 20)).toEqual(await answer(plain, 'alpha', 20));
  });
});
