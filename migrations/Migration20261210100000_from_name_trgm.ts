import { Migration } from '@mikro-orm/migrations';

/**
 * The `from` filter matches the sender's address or name (`from_address ILIKE … OR from_name ILIKE …`), and only the
 * address had a trigram index: the OR could use neither, and every `from=` listing was a sequential scan of the whole
 * table (194 ms at 100k emails, linear in the mailbox). With the name indexed too it is a BitmapOr of the two (4 ms).
 */
export class Migration20261210100000_from_name_trgm extends Migration {

  override name = 'Migration20261210100000_from_name_trgm';

  override up(): void | Promise<void> {
    this.addSql(`create index if not exists "emails_from_name_trgm" on "emails" using gin ("from_name" collate incoming_nocase gin_trgm_ops);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_from_name_trgm";`);
  }

}
