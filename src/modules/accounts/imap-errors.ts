/**
 * Classifies imapflow / socket errors into a few kinds with a message a user can act on. Pure, unit-tested; the sync
 * engine uses the kind to decide between retrying with backoff and parking the account.
 */
export type ImapErrorKind = 'auth' | 'unavailable' | 'dns' | 'refused' | 'tls' | 'timeout' | 'network' | 'protocol';

export interface ClassifiedImapError {
  readonly kind: ImapErrorKind;
  readonly message: string;
  /** Worth retrying later without a configuration change. */
  readonly retryable: boolean;
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  authenticationFailed?: unknown;
  tlsFailed?: unknown;
  /** OpenSSL's reason for a TLS error (Node sets it beside `code`). */
  reason?: unknown;
  responseText?: unknown;
  response?: unknown;
  serverResponseCode?: unknown;
  cause?: unknown;
  _err?: unknown;
}

/**
 * RFC 5530 response codes of a login (or command) the server refuses for now, whatever the credentials: too many
 * sessions of the user (Dovecot `NO [LIMIT] Maximum number of connections from user+IP exceeded`), its auth backend
 * down (`[UNAVAILABLE]`), the mailbox locked (`[INUSE]`), an internal error (`[SERVERBUG]`). imapflow marks any
 * refused LOGIN `authenticationFailed`; these must not park the account as bad credentials.
 */
const TRANSIENT_CODES = new Set(['LIMIT', 'UNAVAILABLE', 'INUSE', 'SERVERBUG']);
/** The same, from servers that say it in words only (Gmail: `NO [ALERT] Too many simultaneous connections.`). */
const TOO_MANY_CONNECTIONS = /too many (simultaneous |concurrent |open )?(connections|sessions)|maximum number of (connections|sessions)/i;

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|ERR_OSSL)/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** The errors of the chain, outermost first (imapflow keeps the socket's error in `_err`). */
function chain(err: ErrorLike): ErrorLike[] {
  const out: ErrorLike[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    out.push(cur as ErrorLike);
    cur = (cur as ErrorLike)._err ?? (cur as ErrorLike).cause;
  }
  return out;
}

/**
 * What went wrong in a TLS handshake, in words: Node's `reason`, else the reason field of OpenSSL's text
 * (`40FD…:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/….c:77:`, which
 * names OpenSSL's source files and ends with a newline); else the message. The commonest cause gets a hint.
 */
function tlsReason(err: ErrorLike, codes: string[]): string {
  const errors = chain(err);
  const reason =
    errors.map((e) => str(e.reason)).find((r) => r !== undefined) ??
    errors.map((e) => (typeof e.message === 'string' ? /:SSL routines:[^:]*:([^:]+):/.exec(e.message)?.[1] : undefined)).find((r) => r !== undefined) ??
    str(err.message)?.trim() ??
    codes.join(', ');
  const plain = codes.includes('ERR_SSL_WRONG_VERSION_NUMBER') || reason === 'wrong version number';
  return plain ? `${reason} (the server did not answer in TLS: check the port and the encryption setting)` : reason;
}

/** Walks `cause` / `_err` to the innermost error carrying a code. */
function codes(err: ErrorLike): string[] {
  return chain(err).flatMap((e) => (str(e.code) ? [e.code as string] : []));
}

/** Turns anything thrown by an IMAP connect/login/command into a classified, human-readable error. */
export function classifyImapError(error: unknown, target?: { host: string; port: number }): ClassifiedImapError {
  const err = (error && typeof error === 'object' ? error : { message: String(error) }) as ErrorLike & { classified?: ClassifiedImapError };
  // Already classified (ImapConnectError from connectImap).
  if (err.classified && typeof err.classified.kind === 'string') return err.classified;
  const where = target ? `${target.host}:${target.port}` : 'the IMAP server';
  const all = codes(err);
  const has = (...c: string[]) => all.some((x) => c.includes(x));
  const serverText = str(err.responseText) ?? (typeof err.response === 'string' ? err.response : undefined);
  const code = str(err.serverResponseCode)?.toUpperCase();
  if ((code && TRANSIENT_CODES.has(code)) || (serverText && TOO_MANY_CONNECTIONS.test(serverText))) {
    return { kind: 'unavailable', retryable: true, message: `${where} refused the session for now${code ? ` [${code}]` : ''}: ${serverText ?? str(err.message) ?? 'no reason given'}` };
  }
  // A BYE instead of a greeting (too many connections, server busy or shutting down): imapflow says "Unexpected close"
  // and keeps the server's words in `reason`.
  const bye = has('ClosedAfterConnectText') ? str(err.reason) : undefined;
  if (bye) return { kind: 'unavailable', retryable: true, message: `${where} refused the session for now (BYE): ${bye}` };
  if (err.authenticationFailed === true && !serverText && err.message === 'Login is disabled') {
    // imapflow's answer to LOGINDISABLED without an AUTH mechanism it can use: no credentials were even sent.
    return { kind: 'auth', retryable: false, message: `${where} disables login on an unencrypted connection (LOGINDISABLED): use encryption ssl or tls` };
  }
  if (err.authenticationFailed === true || code === 'AUTHENTICATIONFAILED') {
    // Dovecot (and others) already say it: `NO [AUTHENTICATIONFAILED] Authentication failed.` is not repeated.
    const message = serverText && /^authentication failed\b/i.test(serverText) ? serverText : `Authentication failed: ${serverText ?? 'the server rejected the credentials'}`;
    return { kind: 'auth', retryable: false, message };
  }
  if (has('ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL')) {
    return { kind: 'dns', retryable: has('EAI_AGAIN'), message: `DNS lookup failed for ${target?.host ?? 'the host'}` };
  }
  if (has('ECONNREFUSED')) return { kind: 'refused', retryable: true, message: `Connection refused by ${where}` };
  if (err.tlsFailed === true || all.some((c) => TLS_CODE.test(c))) {
    return { kind: 'tls', retryable: false, message: `TLS negotiation with ${where} failed: ${tlsReason(err, all)}` };
  }
  if (has('ETIMEDOUT', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'ETIMEOUT', 'UPGRADE_TIMEOUT')) {
    return { kind: 'timeout', retryable: true, message: `Connection to ${where} timed out` };
  }
  if (has('ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'NoConnection', 'EConnectionClosed', 'ClosedAfterConnectTLS')) {
    // `reason`: the server's BYE text, or why we closed the session (imap-stall.ts).
    const reason = chain(err).map((e) => str(e.reason)).find((r) => r !== undefined);
    return { kind: 'network', retryable: true, message: `Network error talking to ${where}: ${str(err.message) ?? all[0]}${reason ? ` (${reason})` : ''}` };
  }
  return {
    kind: 'protocol',
    retryable: true,
    message: `IMAP error from ${where}: ${serverText ?? str(err.message) ?? 'unknown error'}`,
  };
}

/**
 * Whether an IMAP command failed because the mailbox does not exist (deleted or renamed on the server, or a typo in
 * `sync_folders`): imapflow marks a failed SELECT `mailboxMissing` and a failed STATUS `NotFound`; servers that send
 * the RFC 5530 response code say `NONEXISTENT`.
 */
export function isMailboxMissing(error: unknown): boolean {
  const err = error as { mailboxMissing?: unknown; code?: unknown; serverResponseCode?: unknown; response?: unknown } | null;
  if (!err || typeof err !== 'object') return false;
  const nested = err.response && typeof err.response === 'object' ? (err.response as { serverResponseCode?: unknown }) : undefined;
  return err.mailboxMissing === true || err.code === 'NotFound' || err.serverResponseCode === 'NONEXISTENT' || nested?.serverResponseCode === 'NONEXISTENT';
}

/**
 * Whether the server refused to open a mailbox it lists (SELECT or EXAMINE answered NO, and imapflow did not find it
 * missing): a `\Noselect` name (a parent of the hierarchy, a namespace prefix such as `Other/`), or one the user may not
 * read. Like a missing one, it concerns that folder only, not the session.
 */
export function isSelectRefused(error: unknown): boolean {
  const err = error as { responseStatus?: unknown; executedCommand?: unknown } | null;
  if (!err || typeof err !== 'object') return false;
  return err.responseStatus === 'NO' && typeof err.executedCommand === 'string' && /^\S+ (SELECT|EXAMINE) /i.test(err.executedCommand);
}
