import { Migration } from '@mikro-orm/migrations';

export class Migration20261130204218_webhooks extends Migration {

  override name = 'Migration20261130204218_webhooks';

  override up(): void | Promise<void> {
    this.addSql(`create table "webhooks" ("id" serial primary key, "name" varchar(100) null, "url" varchar(2048) not null, "events" jsonb not null, "secret_sealed" text not null, "is_active" boolean not null default true, "account_id" int null, "trigger_count" int not null default 0, "last_triggered_at" timestamptz null, "last_success_at" timestamptz null, "last_failure_at" timestamptz null, "consecutive_failures" int not null default 0, "disabled_reason" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null);`);
    this.addSql(`create index "webhooks_account" on "webhooks" ("account_id");`);

    this.addSql(`create table "webhook_deliveries" ("id" bigserial primary key, "webhook_id" int not null, "event_id" varchar(64) not null, "event_type" varchar(64) not null, "attempt" int not null default 0, "status" text not null default 'pending', "http_code" int null, "latency_ms" int null, "error" text null, "response_body" text null, "next_attempt_at" timestamptz null, "last_attempt_at" timestamptz null, "created_at" timestamptz not null, "delivered_at" timestamptz null);`);
    this.addSql(`create index "webhook_deliveries_webhook_id" on "webhook_deliveries" ("webhook_id", "id");`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_webhook_event" unique ("webhook_id", "event_id");`);

    this.addSql(`create table "webhook_dispatch_cursor" ("id" serial primary key, "last_seq" bigint not null);`);

    this.addSql(`alter table "webhooks" add constraint "webhooks_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on delete cascade;`);

    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_webhook_id_foreign" foreign key ("webhook_id") references "webhooks" ("id") on delete cascade;`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_status_check" check ("status" in ('pending', 'delivered', 'failed'));`);

    // The dispatcher's single cursor row starts after the events that exist now (no webhook existed before them).
    this.addSql(`insert into "webhook_dispatch_cursor" ("id", "last_seq") select 1, coalesce(max("seq"), 0) from "events";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "webhook_deliveries" drop constraint "webhook_deliveries_webhook_id_foreign";`);

    this.addSql(`drop table if exists "webhooks" cascade;`);
    this.addSql(`drop table if exists "webhook_deliveries" cascade;`);
    this.addSql(`drop table if exists "webhook_dispatch_cursor" cascade;`);
  }

}
