/**
 * Fetches, parses and stores new messages of the selected folder as a pipeline: while chunk k is parsed on worker
 * threads, chunk k+1 is fetched from the server, and chunks are stored strictly in UID order so the folder cursor
 * only ever covers stored messages. Metadata (flags, size, date) come META_CHUNK UIDs at a time and sources a
 * bounded number of bytes at a time, so neither the mailbox nor its message list is ever whole in memory; a message
 * over MAX_MESSAGE_BYTES is streamed to the blob store and only its header parsed. A source's memory is freed as soon
 * as it is stored (releaseBuffer), not when V8 next collects it: most sources outlive a young-generation GC, and V8
 * frees those only at a full one.
 */
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import { storedFlags, type FlagChange, type IngestMessage } from '../modules/emails/index.js';
import { releaseBuffer } from '../shared/buffers.js';
import { fetchUids } from './imap-uids.js';
import { chunkBySize } from './plan.js';
import { toIngestMessage, type ImapMeta } from './ingest/to-ingest.js';
import type { FolderCounts, ProgressReport, SyncDeps } from './sync-context.js';

const META_CHUNK = 1000;
const SOURCE_CHUNK_COUNT = 100;
const SOURCE_CHUNK_BYTES = 4 * 1024 * 1024;
/** Chunks parsed or stored concurrently with the next fetch (bounds memory). */
const MAX_IN_FLIGHT = 2;

export interface FetchNewInput {
  accountId: number;
  folder: string;
  uidValidity: number;
  uids: readonly number[];
  /** The cursor after the last chunk (the folder's UIDNEXT). */
  finalUidNext: number;
  onProgress?: (p: ProgressReport) => void;
}

/** A message's UID, flags (as stored: see storedFlags) and MODSEQ from a FETCH with `flags`. */
export function flagChangeOf(m: Pick<FetchMessageObject, 'uid' | 'flags' | 'modseq'>): FlagChange {
  return { uid: m.uid, flags: storedFlags(m.flags), modseq: m.modseq !== undefined ? String(m.modseq) : null };
}

export function metaOf(m: FetchMessageObject): ImapMeta {
  return {
    ...flagChangeOf(m),
    internalDate: m.internalDate instanceof Date ? m.internalDate : m.internalDate ? new Date(m.internalDate) : null,
    size: m.size ?? 0,
  };
}

async function fetchMeta(client: ImapFlow, uids: readonly number[]): Promise<ImapMeta[]> {
  // fetchAll collects before returning: no IMAP command may run inside a fetch() iteration.
  const rows = await fetchUids(client, uids, { flags: true, size: true, internalDate: true });
  return rows.map(metaOf).sort((a, b) => a.uid - b.uid);
}

/** A message too big to parse in memory: raw source streamed to the blob store, header parsed on its own. */
async function ingestLarge(client: ImapFlow, deps: SyncDeps, meta: ImapMeta): Promise<IngestMessage | null> {
  const dl = await client.download(String(meta.uid), undefined, { uid: true });
  if (!dl?.content) return null;
  const stored = await deps.blobs.writeStream(dl.content);
  const head = await client.fetchOne(String(meta.uid), { uid: true, headers: true }, { uid: true });
  const headers = head && head.headers ? Buffer.concat([head.headers, Buffer.from('\r\n')]) : Buffer.from('\r\n\r\n');
  const parsed = await deps.parser.parse(headers);
  return { ...toIngestMessage(meta, parsed, headers), size: stored.size, rawBlobKey: stored.key, rawSource: null, bodyText: null, bodyHtml: null, attachments: [] };
}

/** Fetches, parses and stores the given UIDs; returns counts. */
export async function fetchNewMessages(client: ImapFlow, deps: SyncDeps, input: FetchNewInput): Promise<FolderCounts> {
  const counts: FolderCounts = { new: 0, updated: 0, deleted: 0, failed: 0 };
  const total = input.uids.length;
  let done = 0;
  input.onProgress?.({ folder: input.folder, done, total });
  const inFlight: Promise<void>[] = [];
  let storeChain: Promise<void> = Promise.resolve();
  let stored = false;
  try {
    // Metadata a window of UIDs at a time: a first sync of a mailbox with a million messages holds a few thousand
    // metadata rows, not a million, and stores its first messages without waiting for the whole list.
    for (let w = 0; w < input.uids.length; w += META_CHUNK) {
      const window = input.uids.slice(w, w + META_CHUNK);
      const status = (m: ImapMeta) => deps.fetchFailures.status(input.accountId, input.folder, input.uidValidity, m.uid);
      const listed = await fetchMeta(client, window);
      const skipped = listed.filter((m) => status(m) === 'unfetchable').map((m) => m.uid);
      const metas = skipped.length === 0 ? listed : listed.filter((m) => !skipped.includes(m.uid));
      if (skipped.length > 0) {
        counts.failed += skipped.length;
        deps.log.warn({ accountId: input.accountId, folder: input.folder, uids: skipped }, 'the IMAP server fails to return these messages, even alone: skipped (a full resync tries them again)');
      }
      // Vanished between SEARCH and FETCH (expunged meanwhile): nothing to store.
      done += window.length - metas.length;
      const chunks = chunkBySize(metas, (m) => Math.min(m.size, SOURCE_CHUNK_BYTES), SOURCE_CHUNK_COUNT, SOURCE_CHUNK_BYTES, (m) => status(m) === 'suspect');
      // After a window's last chunk, the cursor stops before the next window's first UID.
      const after = w + META_CHUNK < input.uids.length ? input.uids[w + META_CHUNK]! : input.finalUidNext;
      for (const [index, chunk] of chunks.entries()) {
        deps.shutdown?.throwIfAborted();
        // The chunk's sources count against the process-wide budget from before the fetch until they are stored.
        const release = await deps.budget.acquire(chunkSourceBytes(chunk, deps.maxMessageBytes), deps.shutdown);
        const uids = chunk.map((m) => m.uid);
        const { parsed, large, fetched } = await fetchChunk(client, deps, chunk).catch((err: unknown) => {
          release();
          deps.fetchFailures.failed(input.accountId, input.folder, input.uidValidity, uids);
          throw err;
        });
        const uidNext = index === chunks.length - 1 ? after : chunks[index + 1]![0]!.uid;
        stored = uidNext === input.finalUidNext;
        storeChain = storeChain.then(async () => {
          const messages = [...(await parsed), ...large].sort((a, b) => a.uid - b.uid);
          const r = await deps.ingest.storeBatch({ accountId: input.accountId, folder: input.folder, uidValidity: input.uidValidity, messages, uidNext });
          // In PostgreSQL now: free the inline sources' memory at once rather than at V8's next full GC.
          for (const m of messages) if (m.rawSource) releaseBuffer(m.rawSource);
          counts.new += r.inserted.length - r.moved;
          counts.updated += r.moved;
          deps.emailStats.inserted(r.inserted.length);
          deps.fetchFailures.succeeded(input.accountId, input.folder, input.uidValidity, uids);
          // Vanished between the metadata and the source.
          counts.failed += chunk.length - fetched;
          done += chunk.length;
          input.onProgress?.({ folder: input.folder, done, total });
        });
        // Released once stored, or once the pass failed (a link after a failed one never runs: its parse settles).
        storeChain.then(release, () => parsed.then(release, release));
        // Each link is awaited below, or its failure reaches us through an earlier one: handled either way.
        storeChain.catch(() => undefined);
        inFlight.push(storeChain);
        if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
      }
    }
    await storeChain;
  } catch (err) {
    // Never leave a store running once the pass has failed: a retry would race it.
    await storeChain.catch(() => undefined);
    throw err;
  }
  // Nothing stored up to the folder's UIDNEXT (no new mail, or the last window vanished): move the cursor there.
  if (!stored) {
    await deps.ingest.storeBatch({ accountId: input.accountId, folder: input.folder, uidValidity: input.uidValidity, messages: [], uidNext: input.finalUidNext });
  }
  return counts;
}

/** The bytes of a chunk's sources held in memory: messages over MAX_MESSAGE_BYTES stream to the blob store instead. */
function chunkSourceBytes(chunk: readonly ImapMeta[], maxMessageBytes: number): number {
  return chunk.reduce((sum, m) => sum + (m.size <= maxMessageBytes ? m.size : 0), 0);
}

/**
 * Fetches one chunk's sources and starts parsing them on the worker threads (`parsed` settles later, while the
 * caller fetches the next chunk); messages over MAX_MESSAGE_BYTES are streamed and ingested from their header.
 */
async function fetchChunk(client: ImapFlow, deps: SyncDeps, chunk: readonly ImapMeta[]): Promise<{ parsed: Promise<IngestMessage[]>; large: IngestMessage[]; fetched: number }> {
  const small = chunk.filter((m) => m.size <= deps.maxMessageBytes);
  const sources = new Map<number, Buffer>();
  if (small.length > 0) {
    const rows = await fetchUids(client, small.map((m) => m.uid), { source: true });
    for (const r of rows) if (r.source) sources.set(r.uid, r.source);
  }
  const large: IngestMessage[] = [];
  for (const m of chunk.filter((x) => x.size > deps.maxMessageBytes)) {
    const msg = await ingestLarge(client, deps, m);
    if (msg) large.push(msg);
  }
  const parsed = Promise.all(
    chunk
      .filter((m) => sources.has(m.uid))
      .map(async (m) => {
        const raw = sources.get(m.uid)!;
        const parsed = await deps.parser.parse(raw);
        // Stored in the blob store by the worker: not needed here any more (an inline one is, until it is stored).
        if (!parsed.rawInline) releaseBuffer(raw);
        return toIngestMessage(m, parsed, raw);
      }),
  );
  // Awaited by this chunk's store, which never runs if an earlier store failed: the failure is reported there.
  parsed.catch(() => undefined);
  return { parsed, large, fetched: sources.size + large.length };
}
