/**
 * Opens imapflow sessions for an account's settings: `encryption` maps to implicit TLS (ssl), required STARTTLS (tls)
 * or plain (none), with connection/greeting/socket timeouts. Used by the connection test and folder listing here, and
 * by the sync engine.
 */
import { isIP } from 'node:net';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import type { Encryption } from './account.entity.js';
import { classifyImapError, type ClassifiedImapError } from './imap-errors.js';
import { watchCommands } from './imap-stall.js';

export interface ImapSettings {
  host: string;
  port: number;
  username: string;
  password: string;
  encryption: Encryption;
}

export interface ImapTimeouts {
  connectTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  /** A command without a reply (or with a trickle) this long closes the session: see imap-stall.ts. */
  commandTimeoutMs: number;
  /**
   * The largest literal (a message source, mostly) the server may send; a longer one ends the session. imapflow
   * buffers a literal whole and allows 1 GB: a server that declares a small RFC822.SIZE and sends a huge source
   * could take the process's memory. Unset: imapflow's limit.
   */
  maxLiteralBytes?: number;
  tlsRejectUnauthorized: boolean;
}

export interface FolderInfo {
  name: string;
  path: string;
  messages: number;
  unseen: number;
}

export class ImapConnectError extends Error {
  constructor(readonly classified: ClassifiedImapError, options?: { cause?: unknown }) {
    super(classified.message, options);
    this.name = 'ImapConnectError';
  }
}

/** imapflow options for the settings. Exported for the sync engine and tests. */
export function imapOptions(s: ImapSettings, t: ImapTimeouts): ImapFlowOptions {
  return {
    host: s.host,
    port: s.port,
    secure: s.encryption === 'ssl',
    doSTARTTLS: s.encryption === 'tls' ? true : s.encryption === 'none' ? false : undefined,
    auth: { user: s.username, pass: s.password },
    logger: false,
    connectionTimeout: t.connectTimeoutMs,
    greetingTimeout: t.greetingTimeoutMs,
    socketTimeout: t.socketTimeoutMs,
    ...(t.maxLiteralBytes ? { maxLiteralSize: t.maxLiteralBytes } : {}),
    // SNI carries a host name, never an IP address (RFC 6066; Node warns DEP0123), and no trailing dot. An address is
    // still checked against the certificate's IP entries (Node uses the host when there is no servername).
    tls: { rejectUnauthorized: t.tlsRejectUnauthorized, ...(isIP(s.host) === 0 ? { servername: s.host.replace(/\.$/, '') } : {}) },
    disableAutoIdle: true,
    // Where the server has QRESYNC, a flag sync's UID FETCH … (CHANGEDSINCE n VANISHED) also names the messages
    // expunged since n (see src/sync/folder-sync.ts).
    qresync: true,
  };
}

/** Connects and logs in; on failure throws ImapConnectError with a classified reason. */
export async function connectImap(s: ImapSettings, t: ImapTimeouts, extra: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
  const client = new ImapFlow({ ...imapOptions(s, t), ...extra });
  // An 'error' event without a listener would crash the process.
  client.on('error', () => undefined);
  watchCommands(client, t.commandTimeoutMs);
  try {
    await client.connect();
    return client;
  } catch (err) {
    client.close();
    throw new ImapConnectError(classifyImapError(err, s), { cause: err });
  }
}

/** Runs `fn` with a logged-in session and always closes it. */
export async function withImap<T>(s: ImapSettings, t: ImapTimeouts, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const client = await connectImap(s, t);
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof ImapConnectError) throw err;
    throw new ImapConnectError(classifyImapError(err, s), { cause: err });
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Lists selectable folders with message and unseen counts (IMAP STATUS). */
export async function listFolders(client: ImapFlow): Promise<FolderInfo[]> {
  const boxes = await client.list({ statusQuery: { messages: true, unseen: true } });
  return boxes
    .filter((b) => !b.flags.has('\\Noselect') && !b.flags.has('\\NonExistent'))
    .map((b) => ({ name: b.name, path: b.path, messages: b.status?.messages ?? 0, unseen: b.status?.unseen ?? 0 }));
}
