/**
 * The long-lived IMAP session of one account (on the instance holding its lease): connect, full pass, then IDLE on
 * the first sync folder and poll the others with a cheap STATUS before any SELECT. Silent sockets are caught by a
 * watchdog (a periodic NOOP on the IDLE folder, with a deadline; imapflow re-issues IDLE every `idleRestartMs`;
 * socket timeouts).
 * Errors reconnect with jittered exponential backoff; bad credentials park the account until it is updated.
 */
import type { ImapFlow } from 'imapflow';
import type { AccountsService, ImapTimeouts } from '../modules/accounts/index.js';
import { connectImap, isMailboxMissing } from '../modules/accounts/index.js';
import { WRITE_BACK_CHANNEL, type MailboxStateService } from '../modules/emails/index.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { AppError } from '../shared/errors.js';
import type { PgPubSub } from '../events/pubsub.js';
import type { Logger } from '../shared/logger.js';
import { backoffDelay } from './backoff.js';
import { failureOf, FOLDER_MISSING_ERROR, type SyncRunner, type WorkerSession } from './sync-runner.js';
import type { WriteBackDrainer } from './write-back.js';

export interface WorkerOptions {
  pollIntervalMs: number;
  /** See `flagsDue` in statusRound(). */
  flagRescanMs: number;
  /** How long a poll's STATUS may go unanswered before the session is declared stale and reconnected. */
  watchdogTimeoutMs: number;
  idleRestartMs: number;
  backoff: { baseMs: number; maxMs: number };
}

export interface WorkerDeps {
  accounts: AccountsService;
  state: MailboxStateService;
  runner: SyncRunner;
  /** Drains the account's write-back queue on this session; woken through `pubsub` (WRITE_BACK_CHANNEL). */
  writeBack: WriteBackDrainer;
  pubsub: PgPubSub;
  imapTimeouts: ImapTimeouts;
  log: Logger;
  options: WorkerOptions;
  /** The server's shutdown (see SyncEngine.interrupt): the session ends without recording an error. */
  shutdown?: AbortSignal;
}

/** One session's polling: when each folder's flags were last compared, and the STATUS round in flight. */
interface PollState {
  client: ImapFlow;
  folders: string[];
  /** The session's first pass compared every folder's flags. */
  sessionStart: number;
  flagsComparedAt: Map<string, number>;
  round: Promise<void> | null;
  /** Asked for while a round ran: that round may have looked before the change, so one more follows. */
  again: boolean;
}

/** What a poll learnt of a folder: STATUS, or the selected folder's own view (see look()). */
interface FolderLook {
  messages?: number;
  uidValidity?: bigint;
  uidNext?: number;
  highestModseq?: bigint;
  /** The folder has MODSEQs (CONDSTORE): a flag change moves HIGHESTMODSEQ. */
  condstore: boolean;
}

/** On a server without IDLE: how often the primary folder is asked for news (NOOP), at most. */
const NOOP_WITHOUT_IDLE_MS = 10_000;

/** The longest wait between retries while the database is unreachable: it is our own, probing it storms no one. */
const DB_RETRY_MAX_MS = 10_000;

/**
 * Waits `ms`, or less if `signal` aborts. The abort listener goes when the wait ends either way: the worker's signal
 * lives as long as the session loop, and each poll interval slept used to leave one listener (and its timer) on it.
 */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export class AccountWorker {
  private readonly abort = new AbortController();
  private client: ImapFlow | null = null;
  private loop: Promise<void> | null = null;
  private pending: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private drainAt = Infinity;
  private polling: PollState | null = null;

  constructor(readonly accountId: number, readonly configVersion: string, private readonly deps: WorkerDeps) {}

  start(): void {
    // run() handles its own errors; this catch is the last guard, so no failure (say, the database going away while
    // an error is being recorded) can become an unhandled rejection and take the process down.
    this.loop ??= this.run().catch((err: unknown) => this.deps.log.error({ accountId: this.accountId, err }, 'account session loop failed'));
  }

  /** Stops the session (logout) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.pending) clearTimeout(this.pending);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    const c = this.client;
    if (c) await Promise.race([c.logout().catch(() => c.close()), new Promise((r) => setTimeout(r, 2000))]).finally(() => c.close());
    await this.loop;
  }

  /**
   * The logged-in session, while it is usable: a manual sync runs on it rather than competing for a login slot (and,
   * like the worker's own passes, is interrupted rather than failed when the worker stops: see WorkerSession).
   */
  liveSession(): WorkerSession | undefined {
    return this.client?.usable && !this.stopped ? this.on(this.client) : undefined;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const started = Date.now();
      try {
        await this.session();
      } catch (err) {
        if (this.stopped || this.deps.shutdown?.aborted) break;
        if (isDatabaseUnavailable(err)) {
          // Not the IMAP server's fault, and nothing can be recorded: reconnect once the database answers again.
          attempt++;
          const delay = backoffDelay(attempt, { ...this.deps.options.backoff, maxMs: Math.min(this.deps.options.backoff.maxMs, DB_RETRY_MAX_MS) });
          this.deps.log.warn({ accountId: this.accountId, err, delay }, 'database unavailable; IMAP session restarts after the backoff');
          await sleep(delay, this.abort.signal);
          continue;
        }
        const account = await this.deps.accounts.findById(this.accountId).catch(() => null);
        // A failed pass arrives as the runner's AppError, which already says what happened (and recorded it). Anything
        // else failed here: the IMAP server, or a statement of the session itself (the database's, not the server's).
        const c = failureOf(err instanceof AppError && err.cause ? err.cause : err, account ?? undefined);
        const message = err instanceof AppError ? err.message : c.message;
        if (c.kind === 'auth') {
          // Parked: the supervisor will not start a worker again until the account is updated. If the pause cannot
          // be recorded, retry after the backoff like any other failure (the next login fails the same way).
          const parked = await this.deps.accounts.recordSyncStatus(this.accountId, { connected: false, error: message, pause: true }).then(() => true, () => false);
          if (parked) {
            this.deps.log.warn({ accountId: this.accountId }, 'IMAP credentials rejected; sync paused until the account is updated');
            return;
          }
        }
        await this.deps.accounts.recordSyncStatus(this.accountId, { connected: false, error: message }).catch(() => undefined);
        // A connection that lived a while resets the backoff; a flapping one does not.
        attempt = Date.now() - started > 60_000 ? 0 : attempt + 1;
        const delay = backoffDelay(attempt, this.deps.options.backoff);
        this.deps.log.warn({ accountId: this.accountId, err: message, kind: c.kind, delay }, 'IMAP session ended; reconnecting');
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** One connected session: resolves or throws when it ends. */
  private async session(): Promise<void> {
    const account = await this.deps.accounts.findById(this.accountId);
    if (!account) return this.abort.abort();
    const folders = account.syncFolders;
    const client = await connectImap(this.deps.accounts.settings(account), this.deps.imapTimeouts, { maxIdleTime: this.deps.options.idleRestartMs });
    this.client = client;
    const closed = new Promise<never>((_, reject) => client.once('close', () => reject(Object.assign(new Error('IMAP connection closed'), { code: 'NoConnection' }))));
    closed.catch(() => undefined);
    // Listen before the first drain so that no change committed in between goes unnoticed until the next poll.
    const wake = this.deps.pubsub.iterate<number>(WRITE_BACK_CHANNEL, (id) => Number(id) === this.accountId);
    try {
      await this.deps.accounts.recordSyncStatus(this.accountId, { connected: true });
      void (async () => {
        for await (const _ of wake) this.drainSoon(client, 20);
      })().catch((err: unknown) => this.deps.log.warn({ accountId: this.accountId, err }, 'write-back wake-ups lost; draining on polls only'));
      // Local changes made while disconnected (or left by a crashed owner) go first, whatever their backoff.
      await this.drain(client, true);
      const first = await this.deps.runner.run(this.accountId, {}, this.on(client));
      // IDLE on the first sync folder the server has (else on INBOX, which every server has).
      const primary = folders.find((f) => !first.missing.includes(f)) ?? 'INBOX';
      client.on('exists', (e: { path: string }) => e.path === primary && this.schedule(client, primary));
      // VANISHED (EARLIER) answers our own flag sync (QRESYNC): it reports expunges that pass already handles.
      client.on('expunge', (e: { path: string; earlier?: boolean }) => e.path === primary && !e.earlier && this.schedule(client, primary));
      client.on('flags', (e: { path: string }) => e.path === primary && this.schedule(client, primary));
      this.polling = { client, folders, sessionStart: Date.now(), flagsComparedAt: new Map(), round: null, again: false };
      // A failed poll round ends the session with its own error: closing the connection alone left the account's
      // last_error and the log saying "IMAP connection closed", not why.
      const pollFailed = this.poll(this.polling).then(() => new Promise<never>(() => undefined));
      pollFailed.catch(() => undefined);
      await Promise.race([this.idleLoop(client, primary), closed, pollFailed]);
    } finally {
      void wake.return?.();
      this.polling = null;
      if (this.drainTimer) clearTimeout(this.drainTimer);
      this.drainTimer = null;
      this.client = null;
      client.close();
    }
  }

  /** Passes run on `client` end without a failure once this worker stops (see WorkerSession). */
  private on(client: ImapFlow): WorkerSession {
    return { client, stopped: this.abort.signal };
  }

  /** Debounces server notifications into one sync of the folder. */
  private schedule(client: ImapFlow, folder: string): void {
    if (this.pending || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.deps.runner.runFresh(this.accountId, { folder }, this.on(client)).then(
        // New mail or an expunge in the IDLE folder may be half of a move between synced folders (another client
        // filing a message): the other half is looked for now, with a STATUS round, not at the next poll.
        (r) => (r.new > 0 || r.deleted > 0) && this.pollRoundNow(),
        (err: unknown) => {
          this.deps.log.warn({ accountId: this.accountId, folder, err }, 'triggered sync failed');
          client.close();
        },
      );
    }, 20);
  }

  /** Drains the write-back queue (imapflow leaves IDLE for the commands; idleLoop resumes it) and plans the next retry. */
  private async drain(client: ImapFlow, all = false): Promise<void> {
    const { nextDueAt } = await this.deps.writeBack.drain(this.accountId, client, { all });
    if (nextDueAt && !this.stopped) this.drainSoon(client, Math.max(20, nextDueAt.getTime() - Date.now()));
  }

  /** Debounced drain; an earlier wake-up replaces a later one. */
  private drainSoon(client: ImapFlow, delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.stopped || !client.usable || (this.drainTimer && this.drainAt <= at)) return;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainAt = at;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      this.drain(client).catch((err: unknown) => {
        this.deps.log.warn({ accountId: this.accountId, err }, 'write-back drain failed');
        client.close();
      });
    }, Math.min(delayMs, 2 ** 31 - 1));
  }

  /**
   * Waits for the primary folder's changes: IDLE where the server has it. Without it, imapflow's stand-in holds the
   * connection in NOOPs minutes apart and makes every other command wait for its turn (the polls' STATUS would then
   * look stale); a NOOP of our own every few seconds on the selected folder brings the same notifications instead.
   */
  private async idleLoop(client: ImapFlow, primary: string): Promise<void> {
    const idle = client.capabilities.has('IDLE');
    const noopEvery = Math.min(this.deps.options.pollIntervalMs, NOOP_WITHOUT_IDLE_MS);
    while (!this.stopped && client.usable) {
      // Re-select the primary folder (a poll may have selected another) without holding the lock during IDLE.
      const lock = await client.getMailboxLock(primary);
      lock.release();
      if (idle) {
        await client.idle();
        continue;
      }
      await sleep(noopEvery, this.abort.signal);
      if (!this.stopped && client.usable) await client.noop();
    }
  }

  /**
   * A poll's command with a deadline: a socket that died silently (a NAT or firewall dropping the connection without
   * a reset) would leave it waiting for the socket timeout, minutes. Past the deadline the session is closed, and
   * reconnected.
   */
  private async orStale<T>(client: ImapFlow, folder: string, command: string, answer: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stale = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.deps.log.warn({ accountId: this.accountId, folder, timeoutMs: this.deps.options.watchdogTimeoutMs }, `IMAP session stale (${command} unanswered); reconnecting`);
        client.close();
        reject(Object.assign(new Error(`IMAP session stale: ${command} unanswered`), { code: 'ETIMEDOUT' }));
      }, this.deps.options.watchdogTimeoutMs);
    });
    try {
      return await Promise.race([answer, stale]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A poll's look at one folder (false: the server does not have it). The folder the session has selected (the IDLE
   * one) gets a NOOP, which brings its pending notifications, and is read from the session's own view: STATUS SHOULD
   * NOT be used on the selected mailbox (RFC 3501 6.3.10), and servers that refuse it made every poll look like the
   * folder had gone (a pass over every folder each time), others answer it with stale counts, which imapflow copies
   * into the session's view. Notifications update EXISTS only, so that view's UIDNEXT and HIGHESTMODSEQ are not
   * compared (new mail and flag changes there come as notifications, which schedule a pass themselves).
   */
  private async look(client: ImapFlow, folder: string): Promise<FolderLook | false> {
    if (client.mailbox && client.mailbox.path === folder) {
      await this.orStale(client, folder, 'NOOP', client.noop());
      const box = client.mailbox;
      if (box && box.path === folder) return { messages: box.exists, uidValidity: box.uidValidity, condstore: box.highestModseq !== undefined };
    }
    const s = await this.orStale(client, folder, 'STATUS', client.status(folder, { uidNext: true, uidValidity: true, messages: true, highestModseq: true }));
    return s && { ...s, condstore: s.highestModseq !== undefined };
  }

  /** Every poll interval: a STATUS round, then the write-back queue. */
  private async poll(p: PollState): Promise<void> {
    while (!this.stopped && p.client.usable) {
      await sleep(this.deps.options.pollIntervalMs, this.abort.signal);
      if (this.stopped || !p.client.usable) return;
      await this.pollRound(p);
      await this.drain(p.client);
    }
  }

  /** A STATUS round out of turn (see schedule()); a failure ends the session like a failed poll. */
  private pollRoundNow(): void {
    const p = this.polling;
    if (!p || p.folders.length < 2 || this.stopped) return;
    this.pollRound(p).catch((err: unknown) => {
      this.deps.log.warn({ accountId: this.accountId, err }, 'STATUS round failed');
      p.client.close();
    });
  }

  /** Runs a STATUS round, or joins the one running and has it go round once more. */
  private pollRound(p: PollState): Promise<void> {
    if (p.round) {
      p.again = true;
      return p.round;
    }
    p.round = (async () => {
      do {
        p.again = false;
        await this.statusRound(p);
      } while (p.again && !this.stopped && p.client.usable);
    })().finally(() => {
      p.round = null;
    });
    return p.round;
  }

  /**
   * STATUS each folder (a NOOP for the selected one, the IDLE folder: see look(); either is the watchdog) and sync
   * those that changed. A synced folder that has gone from the server (deleted, renamed) since it was last recorded, or come back since it was recorded missing, runs
   * one full pass, which records it on the account and on the folder as the session's first pass does (only a pass
   * over every folder knows the account's list); after that it is merely skipped, or synced like the others.
   */
  private async statusRound({ client, folders, sessionStart, flagsComparedAt }: PollState): Promise<void> {
    const cursors = new Map((await this.deps.state.cursors(this.accountId)).map((c) => [c.folder, c]));
    let fullPass = false;
    for (const folder of folders) {
      if (this.stopped || !client.usable) return;
      const s = await this.look(client, folder).catch((err: unknown) => {
        if (isMailboxMissing(err)) return false as const;
        throw err;
      });
      const c = cursors.get(folder);
      if (!s) {
        fullPass ||= c !== undefined && c.lastError === null;
        continue;
      }
      if (c?.lastError === FOLDER_MISSING_ERROR) {
        fullPass = true;
        continue;
      }
      const changed =
        !c || c.uidValidity !== Number(s.uidValidity) || c.uidNext < (s.uidNext ?? 0) || c.messages !== s.messages ||
        (s.highestModseq !== undefined && c.highestModseq !== String(s.highestModseq));
      // Without CONDSTORE, STATUS has no HIGHESTMODSEQ and a flag change set elsewhere shows in none of its counts
      // (Exchange, some hosted servers): such a folder's flags are compared every flagRescanMs however quiet it looks.
      const flagsDue = !s.condstore && Date.now() - (flagsComparedAt.get(folder) ?? sessionStart) >= this.deps.options.flagRescanMs;
      if (changed || flagsDue) {
        await this.deps.runner.runFresh(this.accountId, { folder }, this.on(client));
        flagsComparedAt.set(folder, Date.now());
      }
    }
    if (fullPass && !this.stopped && client.usable) await this.deps.runner.runFresh(this.accountId, {}, this.on(client));
  }
}
