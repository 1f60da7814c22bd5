import { Migration } from '@mikro-orm/migrations';

/**
 * A queued delete keeps its message's content identity (Message-ID + header hash): after a UIDVALIDITY reset its old
 * UID names nothing, and the delete follows the message to its new UID instead of failing (the re-fetch brought the
 * deleted message back as new mail).
 */
export class Migration20261208100000_write_back_identity extends Migration {

  override name = 'Migration20261208100000_write_back_identity';

  override up(): void | Promise<void> {
    this.addSql(`alter table "write_backs" add "message_id" varchar(1000) null, add "header_hash" varchar(64) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "write_backs" drop column "message_id", drop column "header_hash";`);
  }

}
