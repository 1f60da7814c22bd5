/**
 * Frees a buffer's memory now rather than at the next full GC (V8 frees the memory of an ArrayBuffer that outlived a
 * young-generation collection only at a full one, and counts external memory only after it grew by 64 MiB), by
 * detaching its ArrayBuffer. Only a buffer that is the whole of its ArrayBuffer, and whose every user is done with it:
 * any other view of that ArrayBuffer reads zero bytes afterwards. Slices of Node's shared pool (small buffers) and
 * views into larger ArrayBuffers are left to the GC.
 */
export function releaseBuffer(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.detached || buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength || buf.byteLength === 0) return;
  try {
    ab.transfer(0);
  } catch {
    // Not detachable (Node's pool, a buffer Node itself holds on to): the GC frees it.
  }
}
