import { Migration } from '@mikro-orm/migrations';

/**
 * Emails the server expunged, kept for a while by content identity (see EmailDeparture): a message moved on the server
 * from one synced folder to another is stored again under its old id, with its local state, instead of as new mail.
 */
export class Migration20261202193000_email_departures extends Migration {

  override name = 'Migration20261202193000_email_departures';

  override up(): void | Promise<void> {
    this.addSql(`create table "email_departures" ("email_id" int not null, "account_id" int not null, "folder" varchar(1000) not null, "message_id" varchar(1000) null, "header_hash" varchar(64) not null, "is_archived" boolean not null, "category_ids" jsonb not null, "attachment_ids" jsonb not null, "departed_at" timestamptz not null, constraint "email_departures_pkey" primary key ("email_id"));`);
    this.addSql(`create index "email_departures_identity" on "email_departures" ("account_id", "header_hash");`);
    this.addSql(`create index "email_departures_departed_at" on "email_departures" ("departed_at");`);
    this.addSql(`alter table "email_departures" add constraint "email_departures_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on update cascade on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "email_departures" cascade;`);
  }

}
