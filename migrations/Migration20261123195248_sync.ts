import { Migration } from '@mikro-orm/migrations';

export class Migration20261123195248_sync extends Migration {

  override name = 'Migration20261123195248_sync';

  override up(): void | Promise<void> {
    this.addSql(`create table "emails" ("id" serial primary key, "account_id" int null, "folder" varchar(1000) not null, "uid_validity" bigint not null, "uid" bigint not null, "modseq" bigint null, "message_id" varchar(1000) null, "header_hash" varchar(64) not null, "from_address" varchar(1000) null, "from_name" varchar(1000) null, "to_addresses" jsonb not null, "cc_addresses" jsonb not null, "reply_to" varchar(1000) null, "subject" text null, "body_text" text null, "body_html" text null, "headers" jsonb not null, "in_reply_to" varchar(1000) null, "references" jsonb not null, "received_at" timestamptz not null, "sent_at" timestamptz null, "read_at" timestamptz null, "is_read" boolean not null default false, "is_starred" boolean not null default false, "is_archived" boolean not null default false, "flags" jsonb not null, "has_attachments" boolean not null default false, "attachment_count" int not null default 0, "size" int not null default 0, "raw_blob" varchar(64) not null, "parse_error" text null, "thread_id" int null, "created_at" timestamptz not null, "updated_at" timestamptz not null);`);
    this.addSql(`create index "emails_thread" on "emails" ("thread_id");`);
    this.addSql(`create index "emails_account_received" on "emails" ("account_id", "received_at");`);
    this.addSql(`create index "emails_content_identity" on "emails" ("account_id", "folder", "message_id", "header_hash");`);
    this.addSql(`create index "emails_message_id" on "emails" ("account_id", "message_id");`);
    this.addSql(`alter table "emails" add constraint "emails_server_identity" unique ("account_id", "folder", "uid_validity", "uid");`);

    this.addSql(`create table "attachments" ("id" serial primary key, "email_id" int not null, "filename" varchar(255) not null, "original_filename" varchar(1000) null, "mime_type" varchar(255) not null, "file_size" int not null, "is_inline" boolean not null default false, "content_id" varchar(1000) null, "checksum" varchar(64) not null, "created_at" timestamptz not null);`);
    this.addSql(`create index "attachments_email" on "attachments" ("email_id");`);
    this.addSql(`create index "attachments_checksum" on "attachments" ("checksum");`);

    this.addSql(`create table "events" ("seq" bigserial primary key, "id" varchar(64) not null, "type" varchar(64) not null, "account_id" int null, "payload" jsonb not null, "created_at" timestamptz not null);`);
    this.addSql(`alter table "events" add constraint "events_id_unique" unique ("id");`);
    this.addSql(`create index "events_account_seq" on "events" ("account_id", "seq");`);

    this.addSql(`create table "folder_states" ("account_id" int not null, "folder" varchar(1000) not null, "uid_validity" bigint null, "uid_next" bigint not null default '1', "highest_modseq" bigint null, "messages" int not null default 0, "last_sync_at" timestamptz null, "last_error" text null, "updated_at" timestamptz not null, primary key ("account_id", "folder"));`);

    this.addSql(`create table "sync_leases" ("account_id" int not null, "owner" varchar(100) not null, "expires_at" timestamptz not null, "acquired_at" timestamptz not null, primary key ("account_id"));`);

    this.addSql(`create table "threads" ("id" serial primary key, "account_id" int null, "subject" text null, "message_count" int not null default 0, "last_message_at" timestamptz null, "created_at" timestamptz not null);`);
    this.addSql(`create index "threads_account" on "threads" ("account_id");`);

    this.addSql(`alter table "accounts" add "sync_paused_at" timestamptz null;`);

    this.addSql(`alter table "emails" add constraint "emails_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on delete set null;`);

    this.addSql(`alter table "attachments" add constraint "attachments_email_id_foreign" foreign key ("email_id") references "emails" ("id") on delete cascade;`);

    this.addSql(`alter table "folder_states" add constraint "folder_states_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on delete cascade;`);

    this.addSql(`alter table "threads" add constraint "threads_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on delete set null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "attachments" drop constraint "attachments_email_id_foreign";`);

    this.addSql(`drop table if exists "emails" cascade;`);
    this.addSql(`drop table if exists "attachments" cascade;`);
    this.addSql(`drop table if exists "events" cascade;`);
    this.addSql(`drop table if exists "folder_states" cascade;`);
    this.addSql(`drop table if exists "sync_leases" cascade;`);
    this.addSql(`drop table if exists "threads" cascade;`);

    this.addSql(`alter table "accounts" drop column "sync_paused_at";`);
  }

}
