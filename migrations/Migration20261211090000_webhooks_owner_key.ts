import { Migration } from '@mikro-orm/migrations';

/**
 * The API key that created (or last changed) a webhook. Deliveries stop, and the webhook is disabled with the reason,
 * once that key is revoked or deleted or could no longer read the mail delivered (webhook-owner.ts). A plain id, not a
 * foreign key, so that it outlives a deleted key. Existing webhooks get none (delivered as before until a key changes
 * them).
 */
export class Migration20261211090000_webhooks_owner_key extends Migration {

  override name = 'Migration20261211090000_webhooks_owner_key';

  override up(): void | Promise<void> {
    this.addSql(`alter table "webhooks" add "owner_key_id" int null;`);
    this.addSql(`create index "webhooks_owner_key" on "webhooks" ("owner_key_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "webhooks_owner_key";`);
    this.addSql(`alter table "webhooks" drop column "owner_key_id";`);
  }

}
