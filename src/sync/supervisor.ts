/**
 * Keeps one IMAP session per active account across all server instances. Ownership is a lease row renewed by
 * heartbeat: a live owner keeps it; when an owner dies its lease expires and another instance takes the account over
 * within `leaseTtlMs + tickMs`. A worker whose lease is lost, or whose account changed, is stopped (and restarted
 * with the new settings).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { exec } from '../db/sql.js';
import type { Logger } from '../shared/logger.js';
import { AccountWorker, type WorkerDeps } from './account-worker.js';

export interface SupervisorOptions {
  tickMs: number;
  leaseTtlMs: number;
}

export class SyncSupervisor {
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly workers = new Map<number, AccountWorker>();
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
        .catch((err: unknown) => this.log.error({ err }, 'sync supervisor tick failed'))
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

  /** Stops every session and releases the leases so another instance can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    await exec(this.orm.em.fork(), 'DELETE FROM sync_leases WHERE owner = ?', [this.instanceId]).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const accounts = await this.workerDeps.accounts.listSyncable();
    const wanted = new Map(accounts.map((a) => [a.id, a.updatedAt.toISOString()]));
    for (const [id, worker] of this.workers) {
      const version = wanted.get(id);
      const renewed = version !== undefined && version === worker.configVersion && (await this.renew(id));
      if (!renewed) {
        this.log.info({ accountId: id, reason: version === undefined ? 'inactive' : version !== worker.configVersion ? 'changed' : 'lease lost' }, 'stopping account session');
        this.workers.delete(id);
        await worker.stop();
        await this.release(id);
      }
    }
    for (const [id, version] of wanted) {
      if (this.stopped || this.workers.has(id) || !(await this.acquire(id))) continue;
      const worker = new AccountWorker(id, version, this.workerDeps);
      this.workers.set(id, worker);
      this.log.info({ accountId: id, instance: this.instanceId }, 'account session acquired');
      worker.start();
    }
  }

  private async acquire(accountId: number): Promise<boolean> {
    const rows = await exec(
      this.orm.em.fork(),
      `INSERT INTO sync_leases (account_id, owner, expires_at, acquired_at)
       VALUES (?, ?, now() + (? || ' milliseconds')::interval, now())
       ON CONFLICT (account_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, acquired_at = now()
       WHERE sync_leases.expires_at < now() OR sync_leases.owner = EXCLUDED.owner
       RETURNING account_id`,
      [accountId, this.instanceId, String(this.options.leaseTtlMs)],
    );
    return rows.length > 0;
  }

  private async renew(accountId: number): Promise<boolean> {
    const rows = await exec(
      this.orm.em.fork(),
      `UPDATE sync_leases SET expires_at = now() + (? || ' milliseconds')::interval WHERE account_id = ? AND owner = ? RETURNING account_id`,
      [String(this.options.leaseTtlMs), accountId, this.instanceId],
    );
    return rows.length > 0;
  }

  private async release(accountId: number): Promise<void> {
    await exec(this.orm.em.fork(), 'DELETE FROM sync_leases WHERE account_id = ? AND owner = ?', [accountId, this.instanceId]);
  }
}
