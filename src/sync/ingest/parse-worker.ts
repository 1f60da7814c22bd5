/**
 * Worker-thread body (loaded by parse-worker.mjs): parses the messages ParserPool sends, one at a time.
 *
 * Protocol, per message `{ id, raw }` (raw copied: the pool keeps its own until the source is stored, for a retry):
 *   → `{ type: 'headers', id, message }` once the raw source is stored and the headers read — what the pool resolves
 *     with (plus a parseError) if this worker then crashes or times out;
 *   → `{ type: 'done', id, message }`, or `{ type: 'failed', id, error, code }` when the blob store failed (I/O).
 * `{ type: 'ready' }` is posted once at start-up, so the pool's per-message timeout never includes the boot time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../../shared/errors.js';
import { BlobStore } from '../../storage/blob-store.js';
import { parseMessage } from './parse-message.js';

export interface ParseWorkerData {
  blobRoot: string;
  maxBytes: number;
  inlineMaxBytes: number;
}

export interface ParseRequest {
  id: number;
  raw: Uint8Array;
}

if (!parentPort) throw new Error('parse-worker must run in a worker thread');
const port = parentPort;
const { blobRoot, maxBytes, inlineMaxBytes } = workerData as ParseWorkerData;
const store = new BlobStore(blobRoot);

port.on('message', ({ id, raw }: ParseRequest) => {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  parseMessage(buf, store, { maxBytes, inlineMaxBytes, onHeaders: (message) => port.postMessage({ type: 'headers', id, message }) }).then(
    (message) => port.postMessage({ type: 'done', id, message }),
    (err: unknown) => port.postMessage({ type: 'failed', id, error: errorMessage(err), code: (err as { code?: unknown } | null)?.code }),
  );
});
port.postMessage({ type: 'ready' });
