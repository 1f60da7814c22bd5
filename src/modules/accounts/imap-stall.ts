/**
 * A deadline for every IMAP command of a session: a server that stops answering mid-command (it accepted the
 * connection, greeted, logged in, then went quiet, or trickles a byte now and then so that the socket's inactivity
 * timeout never fires) has its session closed, with the reason on the errors its pending commands reject with.
 * Otherwise such a pass never ended: it held its account's sync lock, and a FETCH held its share of the
 * process-wide source byte budget (up to all of it for one large message), which every other account waited for.
 *
 * "Stopped answering": the command in flight has been the same for `commandTimeoutMs` and the connection received
 * less than MIN_BYTES_PER_WINDOW meanwhile. A long FETCH that keeps receiving starts a new window instead, and IDLE
 * (quiet by design, watched by the polls' NOOP) is left alone. imapflow has no command timeout of its own: this
 * reads its in-flight request and its socket's byte count (test/e2e/sync-stalled-commands.test.ts fails if an
 * imapflow upgrade renames them).
 */
import type { ImapFlow } from 'imapflow';

/** Bytes a command must bring per window to count as progress (~0.5 KiB/s at the default two minutes). */
export const MIN_BYTES_PER_WINDOW = 64 * 1024;

/** What this reads of imapflow's internals. */
interface ImapFlowInternals {
  currentRequest?: { tag?: string; command?: string } | false;
  /** Set while a response is handed to its consumer: the quiet is ours then, not the server's. */
  _processingResponse?: boolean;
  socket?: { bytesRead?: number } | null;
  isClosed?: boolean;
  byeReason?: string | false;
}

/** Watches `client` until it closes; a stalled command closes it. */
export function watchCommands(client: ImapFlow, commandTimeoutMs: number, onStall?: (reason: string) => void): void {
  const internals = client as unknown as ImapFlowInternals;
  let window: { tag: string; since: number; bytes: number } | null = null;
  const timer = setInterval(() => {
    // 'close' clears the timer; this, should a session that never connected close without it.
    if (internals.isClosed) return clearInterval(timer);
    const request = internals.currentRequest;
    const bytes = internals.socket?.bytesRead ?? 0;
    if (!request || !request.tag || request.command === 'IDLE') {
      window = null;
      return;
    }
    const now = Date.now();
    if (!window || window.tag !== request.tag || internals._processingResponse) window = { tag: request.tag, since: now, bytes };
    if (now - window.since < commandTimeoutMs) return;
    if (bytes - window.bytes >= MIN_BYTES_PER_WINDOW) {
      window = { tag: request.tag, since: now, bytes };
      return;
    }
    const reason = `the IMAP server stopped answering (${request.command ?? 'a command'} without a reply for ${Math.round((now - window.since) / 1000)} s)`;
    clearInterval(timer);
    onStall?.(reason);
    internals.byeReason = reason;
    client.close();
  }, Math.max(100, Math.min(5000, Math.floor(commandTimeoutMs / 4))));
  timer.unref();
  client.once('close', () => clearInterval(timer));
}
