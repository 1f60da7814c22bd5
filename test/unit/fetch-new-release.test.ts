/**
 * fetchNewMessages frees each message source's memory as soon as nothing needs it any more (releaseBuffer), instead of
 * leaving it to V8's next full GC: a source the worker stored in the blob store once it is parsed, an inline one once
 * its chunk is stored — never before (the bytes that reach PostgreSQL are the source's). A fake IMAP client, parser
 * and store: what matters here is when the buffers are released.
 */
import type { FetchQueryObject, ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import type { BatchInput } from '../../src/modules/emails/index.js';
import { releaseBuffer } from '../../src/shared/buffers.js';
import { ByteBudget } from '../../src/sync/byte-budget.js';
import { FetchFailures } from '../../src/sync/fetch-failures.js';
import { fetchNewMessages } from '../../src/sync/fetch-new.js';
import type { ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import type { SyncDeps } from '../../src/sync/sync-context.js';

const INLINE_MAX = 64 * 1024;

/** UIDs of a packed set (`1:3,5`). */
const uidsOf = (set: string): number[] =>
  set.split(',').flatMap((run) => {
    const [a, b = a] = run.split(':').map(Number) as [number, number?];
    return Array.from({ length: b! - a + 1 }, (_, i) => a + i);
  });

describe('fetchNewMessages: message sources in memory', () => {
  it('frees a source once it is stored: by the worker (after the parse) or inline (after its chunk is stored)', async () => {
    // Sizes over Node's 4 KiB pool threshold, so that each source owns its memory (as imapflow's literals do).
    const sizes = new Map([...Array.from({ length: 6 }, (_, i) => [i + 1, 8 * 1024 + i] as const), [7, 200 * 1024], [8, 300 * 1024]]);
    const original = (uid: number) => Buffer.alloc(sizes.get(uid)!, uid);
    const fetched: { uid: number; source: Buffer }[] = [];
    const client = {
      fetchAll: async (set: string, query: FetchQueryObject) =>
        uidsOf(set).map((uid) => {
          if (!query.source) return { uid, flags: new Set<string>(), size: sizes.get(uid)!, internalDate: new Date(0) };
          const source = Buffer.alloc(sizes.get(uid)!);
          original(uid).copy(source);
          fetched.push({ uid, source });
          return { uid, source };
        }),
    } as unknown as ImapFlow;

    const atParse = new Map<number, number>();
    const atStore: { uid: number; inline: boolean; intact: boolean; fetchedLength: number }[] = [];
    const parser = {
      parse: async (raw: Buffer): Promise<ParsedMessage> => {
        const uid = raw[0]!;
        atParse.set(uid, raw.length);
        const rawInline = raw.length <= INLINE_MAX;
        return { messageId: null, headerHash: `h${uid}`, subject: null, from: null, to: [], cc: [], replyTo: [], date: null, inReplyTo: null, references: [], headers: {}, bodyText: null, bodyHtml: null, attachments: [], rawBlobKey: `k${uid}`, rawInline, size: raw.length, parseError: null } as unknown as ParsedMessage;
      },
    };
    const ingest = {
      storeBatch: async (b: BatchInput) => {
        for (const m of b.messages) {
          const source = fetched.find((f) => f.uid === m.uid)!.source;
          atStore.push({ uid: m.uid, inline: m.rawSource != null, intact: m.rawSource?.equals(original(m.uid)) ?? false, fetchedLength: source.length });
        }
        return { inserted: b.messages.map(() => ({})), moved: 0, skipped: 0 };
      },
    };
    const deps = {
      ingest,
      parser,
      budget: new ByteBudget(48 * 1024 * 1024),
      fetchFailures: new FetchFailures(),
      emailStats: { inserted: () => undefined },
      log: { warn: () => undefined },
      maxMessageBytes: 50 * 1024 * 1024,
    } as unknown as SyncDeps;

    const counts = await fetchNewMessages(client, deps, { accountId: 1, folder: 'INBOX', uidValidity: 1, uids: [...sizes.keys()], finalUidNext: 9 });
    expect(counts).toMatchObject({ new: 8, failed: 0 });
    // Every source reached the parser whole.
    expect([...atParse]).toEqual([...sizes]);
    // Inline sources reach the store whole; the worker's (over INLINE_MAX) were freed before it.
    expect(atStore.map((s) => [s.uid, s.inline, s.intact])).toEqual([...sizes.keys()].map((uid) => [uid, uid <= 6, uid <= 6]));
    expect(atStore.filter((s) => !s.inline).map((s) => s.fetchedLength)).toEqual([0, 0]);
    // And once stored, no source holds memory any more.
    expect(fetched.map((f) => f.source.length)).toEqual(fetched.map(() => 0));
  });
});

describe('releaseBuffer', () => {
  it('frees a buffer that is the whole of its memory, and leaves views and pool slices alone', () => {
    const owned = Buffer.alloc(10_000, 1);
    releaseBuffer(owned);
    expect(owned.length).toBe(0);
    const backing = Buffer.alloc(10_000, 2);
    const view = backing.subarray(100, 200);
    releaseBuffer(view);
    expect([view.length, backing.length]).toEqual([100, 10_000]);
    const pooled = Buffer.from('a small buffer from Node’s shared pool');
    const neighbour = Buffer.from('another one');
    releaseBuffer(pooled);
    expect([pooled.toString(), neighbour.toString()]).toEqual(['a small buffer from Node’s shared pool', 'another one']);
  });
});
