import { Migration } from '@mikro-orm/migrations';

/**
 * Thread counters follow deletes. Emails leave by several paths (DELETE /api/emails, bulk delete, expunges seen by the
 * sync, stale rows after a UIDVALIDITY reset, account removal); one statement-level trigger recounts the threads the
 * deleted rows belonged to, whichever path deleted them. An emptied thread keeps its row (a reply arriving later
 * may still be linked to it) with message_count 0, which the API treats as not found.
 */
export class Migration20261130233000_thread_counts extends Migration {

  override name = 'Migration20261130233000_thread_counts';

  override up(): void | Promise<void> {
    this.addSql(`create function "incoming_thread_counts_after_delete"() returns trigger language plpgsql as $$
begin
  update "threads" t
     set "message_count" = s.n, "last_message_at" = s.last
    from (select g.id, count(e.id)::int as n, max(e.received_at) as last
            from (select distinct "thread_id" as id from gone where "thread_id" is not null) g
            left join "emails" e on e."thread_id" = g.id
           group by g.id) s
   where t.id = s.id;
  return null;
end $$;`);
    this.addSql(`create trigger "emails_thread_counts" after delete on "emails" referencing old table as gone for each statement execute function "incoming_thread_counts_after_delete"();`);
    // Counters already off by earlier deletes.
    this.addSql(`update "threads" t set "message_count" = coalesce(s.n, 0), "last_message_at" = s.last
      from (select t2.id, count(e.id)::int as n, max(e.received_at) as last from "threads" t2 left join "emails" e on e."thread_id" = t2.id group by t2.id) s
      where t.id = s.id and (t."message_count" <> coalesce(s.n, 0));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger if exists "emails_thread_counts" on "emails";`);
    this.addSql(`drop function if exists "incoming_thread_counts_after_delete"();`);
  }

}
