import { Migration } from '@mikro-orm/migrations';

/**
 * One account per mailbox. The unique constraint on (email, host, username) compared them byte for byte, so
 * `Support@Example.com` / `IMAP.example.com` and `support@example.com` / `imap.example.com` (or `imap.example.com.`)
 * with the same username were two accounts: two sessions synced one mailbox, every message was stored twice and every
 * webhook fired twice. This index compares the email and host without case (and the host without its trailing dot).
 *
 * Accounts that already clash cannot all stay in a unique index, and the migration must not fail on them: the oldest
 * of each group keeps the identity; the newer ones are left out of the index (its predicate names their ids),
 * deactivated (they synced the same mail a second time) and reported in their `last_error`. Their mail stays; the
 * operator deletes them. AccountsService checks the same identity before each create and identity change, so these
 * accounts still block new duplicates (even once their older twin is deleted).
 * Hand-written (an expression and a computed predicate): the entity keeps its plain unique constraint, which this
 * index makes stricter.
 */
export class Migration20261209091000_accounts_mailbox_identity extends Migration {

  override name = 'Migration20261209091000_accounts_mailbox_identity';

  override up(): void | Promise<void> {
    this.addSql(`do $$
      declare
        clashing int[];
      begin
        with identities as (
          select id, min(id) over (partition by lower(email), rtrim(lower(host), '.'), username) as kept
          from accounts
        ), clashes as (
          update accounts a
             set is_active = false, updated_at = now(),
                 last_error = format('Deactivated: the same mailbox as account %s (email, host and username differ only in case), '
                   || 'so its mail was synced twice. Delete this account; an account with this email, host and username is now refused (409).', i.kept)
            from identities i
           where a.id = i.id and i.id <> i.kept
          returning a.id
        )
        select coalesce(array_agg(id order by id), '{}') into clashing from clashes;
        execute format(
          'create unique index "accounts_mailbox_identity" on "accounts" (lower("email"), rtrim(lower("host"), %L), "username")%s',
          '.',
          case when cardinality(clashing) = 0 then '' else format(' where id <> all (%L::int[])', clashing) end
        );
      end $$;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "accounts_mailbox_identity";`);
  }

}
