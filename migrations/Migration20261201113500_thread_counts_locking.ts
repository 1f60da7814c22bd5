import { Migration } from '@mikro-orm/migrations';

/** The recount itself, unchanged (Migration20261130233000_thread_counts). */
const RECOUNT = `  update "threads" t
     set "message_count" = s.n, "last_message_at" = s.last
    from (select g.id, count(e.id)::int as n, max(e.received_at) as last
            from (select distinct "thread_id" as id from gone where "thread_id" is not null) g
            left join "emails" e on e."thread_id" = g.id
           group by g.id) s
   where t.id = s.id;`;

/**
 * The thread recount after a delete locks the threads first and counts in a statement of its own. As one UPDATE …
 * FROM (count) it counted with the snapshot it started with: a concurrent delete in the same thread, committed while
 * this UPDATE waited for that thread's row lock, was not seen, and the counter stayed one too high
 * (test/e2e/row-locking.test.ts). In PL/pgSQL under READ COMMITTED each statement takes a new snapshot, so the count
 * that follows the lock sees every delete committed before it.
 */
export class Migration20261201113500_thread_counts_locking extends Migration {

  override name = 'Migration20261201113500_thread_counts_locking';

  override up(): void | Promise<void> {
    this.addSql(`create or replace function "incoming_thread_counts_after_delete"() returns trigger language plpgsql as $$
begin
  perform 1 from "threads" where id in (select "thread_id" from gone where "thread_id" is not null) order by id for update;
${RECOUNT}
  return null;
end $$;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create or replace function "incoming_thread_counts_after_delete"() returns trigger language plpgsql as $$
begin
${RECOUNT}
  return null;
end $$;`);
  }

}
