import { Migration } from '@mikro-orm/migrations';

/** `Idempotency-Key` claims and the answers replayed to retries (src/modules/idempotency), kept 24 hours. */
export class Migration20261201073708_idempotency_keys extends Migration {

  override name = 'Migration20261201073708_idempotency_keys';

  override up(): void | Promise<void> {
    this.addSql(`create table "idempotency_keys" ("api_key_id" int not null, "key" varchar(255) not null, "fingerprint" varchar(64) not null, "status" int null, "content_type" varchar(255) null, "body" text null, "created_at" timestamptz not null default now(), primary key ("api_key_id", "key"));`);
    this.addSql(`create index "idempotency_keys_created_at" on "idempotency_keys" ("created_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "idempotency_keys" cascade;`);
  }

}
