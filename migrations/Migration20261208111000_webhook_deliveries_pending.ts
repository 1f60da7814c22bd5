import { Migration } from '@mikro-orm/migrations';

/**
 * The pending deliveries, in id order: what the sweep of deliveries without a job reads every minute
 * (src/webhooks/orphan-sweep.ts). Deliveries are kept for EVENTS_RETENTION_DAYS, so without it each sweep walked the
 * whole delivery history for the few rows still pending. Partial: only pending rows are in it.
 */
export class Migration20261208111000_webhook_deliveries_pending extends Migration {

  override name = 'Migration20261208111000_webhook_deliveries_pending';

  override up(): void | Promise<void> {
    this.addSql(`create index "webhook_deliveries_pending" on "webhook_deliveries" ("id") where "status" = 'pending';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "webhook_deliveries_pending";`);
  }

}
