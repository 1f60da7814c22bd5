import { Migration } from '@mikro-orm/migrations';

/**
 * The thread linker adopts stored messages that name a new message in their References, not only in In-Reply-To (a
 * reply to a reply whose middle message is in an unsynced Sent folder names its root only there). jsonb_ops indexes
 * the array's strings, so `"references" ?| ids` is an index lookup instead of a scan of the account's emails per batch.
 */
export class Migration20261207130000_emails_references extends Migration {

  override name = 'Migration20261207130000_emails_references';

  override up(): void | Promise<void> {
    this.addSql(`create index "emails_references" on "emails" using gin ("references");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_references";`);
  }

}
