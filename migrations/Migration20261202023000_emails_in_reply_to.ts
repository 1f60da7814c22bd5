import { Migration } from '@mikro-orm/migrations';

/**
 * The thread linker looks up the stored replies to each new message by In-Reply-To (replies that arrived before their
 * parent). Without an index that was a scan of the account's emails for every stored batch: ~250 ms per new message
 * at 100,000 emails, and quadratic over a first sync.
 */
export class Migration20261202023000_emails_in_reply_to extends Migration {

  override name = 'Migration20261202023000_emails_in_reply_to';

  override up(): void | Promise<void> {
    this.addSql(`create index "emails_in_reply_to" on "emails" ("account_id", "in_reply_to") where "in_reply_to" is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_in_reply_to";`);
  }

}
