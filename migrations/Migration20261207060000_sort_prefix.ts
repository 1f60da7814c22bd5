import { Migration } from '@mikro-orm/migrations';

/**
 * The subject and sender sort indexes hold a prefix of the value (256 characters, at most 1 KiB) instead of all of it.
 * A btree entry cannot exceed ~2,700 bytes: a message with a longer subject (3,000 characters, or 1,000 CJK ones)
 * could not be stored at all, and failed its whole batch. Listings sort by the same prefix (email-query.ts), then by id.
 */
export class Migration20261207060000_sort_prefix extends Migration {

  override name = 'Migration20261207060000_sort_prefix';

  override up(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_subject_sort";`);
    this.addSql(`drop index if exists "emails_from_sort";`);
    this.addSql(`create index "emails_subject_sort" on "emails" ((left(coalesce("subject", ''), 256)), "id");`);
    this.addSql(`create index "emails_from_sort" on "emails" ((left(coalesce("from_address", ''), 256)), "id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_subject_sort";`);
    this.addSql(`drop index if exists "emails_from_sort";`);
    this.addSql(`create index "emails_subject_sort" on "emails" ((coalesce("subject", '')), "id");`);
    this.addSql(`create index "emails_from_sort" on "emails" ((coalesce("from_address", '')), "id");`);
  }

}
