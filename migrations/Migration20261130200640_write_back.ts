import { Migration } from '@mikro-orm/migrations';

export class Migration20261130200640_write_back extends Migration {

  override name = 'Migration20261130200640_write_back';

  override up(): void | Promise<void> {
    this.addSql(`create table "write_backs" ("id" bigserial primary key, "account_id" int not null, "email_id" int null, "folder" varchar(1000) not null, "uid_validity" bigint not null, "uid" bigint not null, "action" text not null, "modseq" bigint null, "status" text not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_error" text null, "created_at" timestamptz not null);`);
    this.addSql(`create index "write_backs_email" on "write_backs" ("email_id");`);
    this.addSql(`create index "write_backs_due" on "write_backs" ("account_id", "status", "next_attempt_at");`);

    this.addSql(`alter table "accounts" add "delete_mode" text not null default 'trash';`);
    this.addSql(`alter table "accounts" add constraint "accounts_delete_mode_check" check ("delete_mode" in ('trash', 'expunge'));`);

    this.addSql(`alter table "emails" add "sync_error" text null;`);

    this.addSql(`alter table "write_backs" add constraint "write_backs_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on delete cascade;`);
    this.addSql(`alter table "write_backs" add constraint "write_backs_action_check" check ("action" in ('seen', 'unseen', 'flag', 'unflag', 'delete'));`);
    this.addSql(`alter table "write_backs" add constraint "write_backs_status_check" check ("status" in ('pending', 'failed'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "write_backs" cascade;`);

    this.addSql(`alter table "accounts" drop constraint "accounts_delete_mode_check";`);
    this.addSql(`alter table "accounts" drop column "delete_mode";`);

    this.addSql(`alter table "emails" drop column "sync_error";`);
  }

}
