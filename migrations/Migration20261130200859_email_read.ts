import { Migration } from '@mikro-orm/migrations';

export class Migration20261130200859_email_read extends Migration {

  override name = 'Migration20261130200859_email_read';

  override up(): void | Promise<void> {
    this.addSql(`create table "categories" ("id" serial primary key, "name" varchar(100) not null, "slug" varchar(100) not null, "description" text null, "color" varchar(20) null, "is_active" boolean not null default true, "priority" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "categories" add constraint "categories_slug_unique" unique ("slug");`);

    this.addSql(`create table "email_categories" ("email_id" int not null, "category_id" int not null, "assigned_by" text not null default 'manual', "confidence" numeric(5,4) null, "created_at" timestamptz not null, primary key ("email_id", "category_id"));`);
    this.addSql(`create index "email_categories_category" on "email_categories" ("category_id");`);

    this.addSql(`alter table "email_categories" add constraint "email_categories_email_id_foreign" foreign key ("email_id") references "emails" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "email_categories" add constraint "email_categories_category_id_foreign" foreign key ("category_id") references "categories" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "email_categories" add constraint "email_categories_assigned_by_check" check ("assigned_by" in ('manual', 'rule'));`);

    // Full-text search (hand-written: the entities do not model it, so the snapshot and db:migration:check ignore it).
    // One language-neutral configuration for French and English mail: the simple parser/dictionary (no stemming, which
    // would mangle the other language) behind the unaccent filter, so "ete", "Été" and "été" all match.
    this.addSql(`create extension if not exists unaccent;`);
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(`create text search configuration incoming_fts (copy = simple);`);
    this.addSql(`alter text search configuration incoming_fts alter mapping for asciiword, asciihword, hword_asciipart, word, hword, hword_part with unaccent, simple;`);
    // A stored generated column: to_tsvector(regconfig, text) is immutable (unaccent() is not, its dictionary is used
    // inside the configuration instead). Weights: subject A, sender and recipients B, body C. Addresses are indexed
    // whole and split at @ and dots ("john", "example"). The body is capped so no message exceeds tsvector's 1 MB.
    this.addSql(`alter table "emails" add column "search_vector" tsvector generated always as (
      setweight(to_tsvector('incoming_fts'::regconfig, coalesce("subject", '')), 'A') ||
      setweight(to_tsvector('incoming_fts'::regconfig, coalesce("from_name", '') || ' ' || coalesce("from_address", '') || ' ' || translate(coalesce("from_address", ''), '@.', '  ')), 'B') ||
      setweight(jsonb_to_tsvector('incoming_fts'::regconfig, "to_addresses", '["string"]'), 'B') ||
      setweight(to_tsvector('incoming_fts'::regconfig, left(coalesce("body_text", ''), 100000)), 'C')
    ) stored;`);
    this.addSql(`create index "emails_search" on "emails" using gin ("search_vector");`);
    // Keyset pagination for each documented sort (ties broken by id), and trigram indexes for the partial-match filters.
    this.addSql(`create index "emails_received_id" on "emails" ("received_at", "id");`);
    this.addSql(`create index "emails_subject_sort" on "emails" ((coalesce("subject", '')), "id");`);
    this.addSql(`create index "emails_from_sort" on "emails" ((coalesce("from_address", '')), "id");`);
    this.addSql(`create index "emails_subject_trgm" on "emails" using gin ("subject" gin_trgm_ops);`);
    this.addSql(`create index "emails_from_trgm" on "emails" using gin ("from_address" gin_trgm_ops);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_from_trgm";`);
    this.addSql(`drop index if exists "emails_subject_trgm";`);
    this.addSql(`drop index if exists "emails_from_sort";`);
    this.addSql(`drop index if exists "emails_subject_sort";`);
    this.addSql(`drop index if exists "emails_received_id";`);
    this.addSql(`alter table "emails" drop column if exists "search_vector";`);
    this.addSql(`drop text search configuration if exists incoming_fts;`);
    this.addSql(`alter table "email_categories" drop constraint "email_categories_category_id_foreign";`);

    this.addSql(`drop table if exists "categories" cascade;`);
    this.addSql(`drop table if exists "email_categories" cascade;`);
  }

}
