/**
 * Keeps one IMAP session per active account across all server instances. Ownership is a lease row renewed by
 * heartbeat: a live owner keeps it; when an owner dies its lease expires and another instance takes the account over
 * within `leaseTtlMs + tickMs`. A worker whose lease is lost, or whose account changed, is stopped (and restarted
 * with the new settings); so is one whose lease could not be renewed in time (the database unreachable), before the
 * lease can expire under it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { exec } from '../db/sql.js';
import type { Logger } from '../shared/logger.js';
import { AccountWorker, type WorkerDeps } from './account-worker.js';
import type { WorkerSession } from './sync-runner.js';

export interface SupervisorOptions {
  tickMs: number;
  leaseTtlMs: number;
}

export class SyncSupervisor {
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly workers = new Map<number, AccountWorker>();
  /** When (local clock) each owned lease was last acquired or renewed: sent time of the statement that did it. */
  private readonly renewedAt = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly workerDeps: WorkerDeps,
    private readonly options: SupervisorOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch(async (err: unknown) => {
          this.log.error({ err }, 'sync supervisor tick failed');
          await this.dropLapsed();
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.options.tickMs);
        });
    };
    loop();
  }

  /** Accounts this instance currently runs. */
  owned(): number[] {
    return [...this.workers.keys()];
  }

  /** The account's IMAP session on this instance, if it runs here and is logged in. */
  session(accountId: number): WorkerSession | undefined {
    return this.workers.get(accountId)?.liveSession();
  }

  /** Stops every session and releases the leases so another instance can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.workers.keys()].map((id) => this.stopSession(id, true)));
    this.workers.clear();
    this.renewedAt.clear();
    await exec(this.orm.em.fork(), 'DELETE FROM sync_leases WHERE owner = ?', [this.instanceId]).catch(() => undefined);
  }

  /**
   * Stops the sessions whose lease may lapse before the next tick because renewals failed (the database unreachable,
   * say): once it expires another instance may take the account, and two sessions must never run at once.
   */
  private async dropLapsed(): Promise<void> {
    const { leaseTtlMs, tickMs } = this.options;
    const oldest = Date.now() - Math.max(leaseTtlMs / 2, leaseTtlMs - tickMs);
    for (const [id, worker] of this.workers) {
      if ((this.renewedAt.get(id) ?? 0) > oldest) continue;
      this.log.warn({ accountId: id }, 'lease not renewed in time; stopping account session');
      this.forget(id);
      await worker.stop();
    }
  }

  /**
   * Stops the account's session. `disconnected`: no other session takes it over now (deactivated, deleted, or this
   * instance shutting down while it still holds the lease), so the account must stop showing `connected: true`.
   */
  private async stopSession(accountId: number, disconnected: boolean): Promise<void> {
    const worker = this.workers.get(accountId);
    this.forget(accountId);
    await worker?.stop();
    if (disconnected) {
      await this.workerDeps.accounts.recordSyncStatus(accountId, { connected: false }).catch((err: unknown) => this.log.warn({ accountId, err }, 'could not record the account as disconnected'));
    }
  }

  private forget(accountId: number): void {
    this.workers.delete(accountId);
    this.renewedAt.delete(accountId);
  }

  private async tick(): Promise<void> {
    const accounts = await this.workerDeps.accounts.listSyncable();
    const wanted = new Map(accounts.map((a) => [a.id, a.updatedAt.toISOString()]));
    const current = [...this.workers].filter(([id, worker]) => wanted.get(id) === worker.configVersion).map(([id]) => id);
    const renewedNow = await this.renew(current);
    for (const [id, worker] of this.workers) {
      const version = wanted.get(id);
      const renewed = version !== undefined && version === worker.configVersion && renewedNow.has(id);
      if (!renewed) {
        const reason = version === undefined ? 'inactive' : version !== worker.configVersion ? 'changed' : 'lease lost';
        this.log.info({ accountId: id, reason }, 'stopping account session');
        // Changed: a new session starts below at once. Lease lost: the new owner's session reports the status.
        await this.stopSession(id, reason === 'inactive');
        await this.release(id);
      }
    }
    const acquired = this.stopped ? new Set<number>() : await this.acquire([...wanted.keys()].filter((id) => !this.workers.has(id)));
    for (const [id, version] of wanted) {
      if (this.stopped || this.workers.has(id) || !acquired.has(id)) continue;
      const worker = new AccountWorker(id, version, this.workerDeps);
      this.workers.set(id, worker);
      this.log.info({ accountId: id, instance: this.instanceId }, 'account session acquired');
      worker.start();
    }
  }

  /** Takes the leases of `accountIds` that are free, expired or ours, in one statement (see renew()). */
  private async acquire(accountIds: number[]): Promise<Set<number>> {
    if (accountIds.length === 0) return new Set();
    const sent = Date.now();
    // In id order, as every instance does: two acquiring overlapping sets at once never deadlock.
    const rows = await exec<{ account_id: number | string }>(
      this.orm.em.fork(),
      `INSERT INTO sync_leases (account_id, owner, expires_at, acquired_at)
       SELECT id, ?, now() + (? || ' milliseconds')::interval, now() FROM unnest(?::int[]) AS id ORDER BY id
       ON CONFLICT (account_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, acquired_at = now()
       WHERE sync_leases.expires_at < now() OR sync_leases.owner = EXCLUDED.owner
       RETURNING account_id`,
      [this.instanceId, String(this.options.leaseTtlMs), accountIds],
    );
    const acquired = new Set(rows.map((r) => Number(r.account_id)));
    for (const id of acquired) this.renewedAt.set(id, sent);
    return acquired;
  }

  /**
   * Renews the leases of `accountIds` in one statement; returns those still ours. One statement per lease, in turn,
   * made a tick last (accounts × round trip): with many accounts or a distant database, longer than the TTL, and
   * another instance took over accounts whose sessions still ran here (test/e2e/sync-many-accounts.test.ts).
   */
  private async renew(accountIds: number[]): Promise<Set<number>> {
    if (accountIds.length === 0) return new Set();
    const sent = Date.now();
    const rows = await exec<{ account_id: number | string }>(
      this.orm.em.fork(),
      `UPDATE sync_leases SET expires_at = now() + (? || ' milliseconds')::interval
       WHERE account_id = ANY(?::int[]) AND owner = ? RETURNING account_id`,
      [String(this.options.leaseTtlMs), accountIds, this.instanceId],
    );
    const renewed = new Set(rows.map((r) => Number(r.account_id)));
    for (const id of renewed) this.renewedAt.set(id, sent);
    return renewed;
  }

  private async release(accountId: number): Promise<void> {
    await exec(this.orm.em.fork(), 'DELETE FROM sync_leases WHERE account_id = ? AND owner = ?', [accountId, this.instanceId]);
  }
}
