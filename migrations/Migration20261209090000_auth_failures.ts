import { Migration } from '@mikro-orm/migrations';

/**
 * Failed authentications per client address and per API key, in fixed windows (the failed-authentication throttle).
 * UNLOGGED like `rate_limit_counters`: hot under an attack and disposable (a crash only resets the current windows).
 */
export class Migration20261209090000_auth_failures extends Migration {

  override name = 'Migration20261209090000_auth_failures';

  override up(): void | Promise<void> {
    this.addSql(`create unlogged table "auth_failure_counters" ("subject" varchar(64) not null, "window_start" timestamptz not null, "count" int not null default 0, primary key ("subject", "window_start"));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "auth_failure_counters" cascade;`);
  }

}
