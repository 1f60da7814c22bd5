import { Migration } from '@mikro-orm/migrations';

/**
 * The `from` and `subject` filters are case-insensitive (ILIKE), but ILIKE folds case with the column's collation,
 * and the embedded PostgreSQL's cluster is `--locale=C`: only ASCII letters were folded, so `subject=été` did not
 * find "ÉTÉ" nor `from=jöhn` "JÖHN". The filters now compare under `incoming_nocase`, a collation with Unicode case
 * mapping whatever the database's locale: PostgreSQL 17+'s builtin C.UTF-8 (stable, no OS or ICU dependency), else the
 * OS's C.UTF-8, else ICU's root locale; "C" only as a last resort (ASCII folding, as before).
 *
 * The trigram indexes of those filters are rebuilt under that collation: an index serves a clause only when their
 * collations agree.
 */
export class Migration20261208091000_nocase_collation extends Migration {

  override name = 'Migration20261208091000_nocase_collation';

  override up(): void | Promise<void> {
    this.addSql(`do $$
      begin
        create collation incoming_nocase (provider = builtin, locale = 'C.UTF-8');
      exception when others then
        begin
          create collation incoming_nocase (provider = libc, locale = 'C.UTF-8');
          -- A libc collation is created even when the OS lacks the locale; it fails at first use.
          perform lower('É' collate incoming_nocase);
        exception when others then
          begin
            drop collation if exists incoming_nocase;
            create collation incoming_nocase (provider = icu, locale = 'und');
          exception when others then
            create collation incoming_nocase from "C";
          end;
        end;
      end $$;`);
    this.addSql(`drop index if exists "emails_subject_trgm";`);
    this.addSql(`drop index if exists "emails_from_trgm";`);
    this.addSql(`create index "emails_subject_trgm" on "emails" using gin ("subject" collate incoming_nocase gin_trgm_ops);`);
    this.addSql(`create index "emails_from_trgm" on "emails" using gin ("from_address" collate incoming_nocase gin_trgm_ops);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_subject_trgm";`);
    this.addSql(`drop index if exists "emails_from_trgm";`);
    this.addSql(`create index "emails_subject_trgm" on "emails" using gin ("subject" gin_trgm_ops);`);
    this.addSql(`create index "emails_from_trgm" on "emails" using gin ("from_address" gin_trgm_ops);`);
    this.addSql(`drop collation if exists incoming_nocase;`);
  }

}
