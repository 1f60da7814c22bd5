import { Migration } from '@mikro-orm/migrations';

/**
 * Small raw sources move from one blob file each into PostgreSQL: creating ~one file per message was the most
 * expensive step of ingest (bench:ingest-parts). `data` uses lz4 where the server has it (cheaper than the default
 * pglz for mail text); the index serves the raw-source and blob sweeps.
 */
export class Migration20261201005556_raw_sources extends Migration {

  override name = 'Migration20261201005556_raw_sources';

  override up(): void | Promise<void> {
    this.addSql(`create table "raw_sources" ("key" varchar(64) not null, "data" bytea not null, "stored_at" timestamptz not null default now(), primary key ("key"));`);
    this.addSql(`do $$ begin
  alter table "raw_sources" alter column "data" set compression lz4;
exception when others then null; -- a server built without lz4 keeps pglz
end $$;`);

    this.addSql(`create index "emails_raw_blob" on "emails" ("raw_blob");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "raw_sources" cascade;`);

    this.addSql(`drop index "emails_raw_blob";`);
  }

}
