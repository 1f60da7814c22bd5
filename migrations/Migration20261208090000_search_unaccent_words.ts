import { Migration } from '@mikro-orm/migrations';

/**
 * Full-text search was accent-insensitive only for words made of letters. PostgreSQL's parser gives words that mix
 * letters and digits their own token types (numword: "Réf2024", "2ème", "1ère", "été2024"; numhword and
 * hword_numpart for hyphenated ones), and incoming_fts mapped those to `simple` alone: "2eme" did not find "2ème", nor
 * "ref2024" "Réf2024". They now go through unaccent too.
 *
 * The recipients were only the To addresses: Cc recipients (names and addresses) are now indexed as well (weight B),
 * as the README's "sender … and the recipients" says.
 *
 * The stored tsvectors were computed with the old mapping, so the generated column is rebuilt (PostgreSQL 16 has no
 * ALTER COLUMN … SET EXPRESSION): one rewrite of the table, and its GIN index again.
 */
export class Migration20261208090000_search_unaccent_words extends Migration {

  override name = 'Migration20261208090000_search_unaccent_words';

  override up(): void | Promise<void> {
    this.addSql(`alter text search configuration incoming_fts alter mapping for numword, numhword, hword_numpart with unaccent, simple;`);
    this.addSql(`alter table "emails" drop column "search_vector";`);
    this.addSql(searchVector(true));
    this.addSql(`create index "emails_search" on "emails" using gin ("search_vector");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter text search configuration incoming_fts alter mapping for numword, numhword, hword_numpart with simple;`);
    this.addSql(`alter table "emails" drop column "search_vector";`);
    this.addSql(searchVector(false));
    this.addSql(`create index "emails_search" on "emails" using gin ("search_vector");`);
  }

}

/** The generated column (as in the email_read migration), with or without the Cc recipients. */
function searchVector(withCc: boolean): string {
  const cc = withCc ? `\n      setweight(jsonb_to_tsvector('incoming_fts'::regconfig, "cc_addresses", '["string"]'), 'B') ||` : '';
  return `alter table "emails" add column "search_vector" tsvector generated always as (
      setweight(to_tsvector('incoming_fts'::regconfig, coalesce("subject", '')), 'A') ||
      setweight(to_tsvector('incoming_fts'::regconfig, coalesce("from_name", '') || ' ' || coalesce("from_address", '') || ' ' || translate(coalesce("from_address", ''), '@.', '  ')), 'B') ||
      setweight(jsonb_to_tsvector('incoming_fts'::regconfig, "to_addresses", '["string"]'), 'B') ||${cc}
      setweight(to_tsvector('incoming_fts'::regconfig, left(coalesce("body_text", ''), 100000)), 'C')
    ) stored;`;
}
