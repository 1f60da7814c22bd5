import { Migration } from '@mikro-orm/migrations';

export class Migration20261123193826_initial extends Migration {

  override name = 'Migration20261123193826_initial';

  override up(): void | Promise<void> {
    this.addSql(`create table "accounts" ("id" serial primary key, "name" varchar(100) not null, "email" varchar(320) not null, "host" varchar(255) not null, "port" int not null, "username" varchar(320) not null, "password_sealed" text not null, "encryption" text not null default 'ssl', "is_active" boolean not null default false, "sync_folders" jsonb not null, "connected" boolean not null default false, "last_sync_at" timestamptz null, "last_error" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "accounts" add constraint "accounts_email_host_username_unique" unique ("email", "host", "username");`);

    this.addSql(`create table "api_keys" ("id" serial primary key, "name" varchar(100) not null, "public_key" varchar(128) not null, "secret_hash" varchar(64) not null, "secret_salt" varchar(32) not null, "permissions" text[] not null default '{}', "account_ids" jsonb null, "requests_per_minute" int not null, "requests_per_hour" int not null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_public_key_unique" unique ("public_key");`);

    this.addSql(`create table "rate_limit_counters" ("key_id" int not null, "bucket" varchar(8) not null, "window_start" timestamptz not null, "count" int not null default 0, primary key ("key_id", "bucket", "window_start"));`);

    this.addSql(`alter table "accounts" add constraint "accounts_encryption_check" check ("encryption" in ('ssl', 'tls', 'none'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "accounts" cascade;`);
    this.addSql(`drop table if exists "api_keys" cascade;`);
    this.addSql(`drop table if exists "rate_limit_counters" cascade;`);
  }

}
