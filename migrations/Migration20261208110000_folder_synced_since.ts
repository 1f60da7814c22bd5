import { Migration } from '@mikro-orm/migrations';

/**
 * When a folder's first complete pass (under its current UIDVALIDITY) ended: a queued delete whose message left its
 * folder follows only a copy that arrived in a folder synced before the delete was queued, never one the first sync of
 * a folder stored later (it was on the server all along: a copy the user keeps). Folders synced before this migration
 * count from their last pass, which is no earlier than their first.
 */
export class Migration20261208110000_folder_synced_since extends Migration {

  override name = 'Migration20261208110000_folder_synced_since';

  override up(): void | Promise<void> {
    this.addSql(`alter table "folder_states" add "synced_since" timestamptz null;`);
    this.addSql(`update "folder_states" set "synced_since" = "last_sync_at" where "last_sync_at" is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "folder_states" drop column "synced_since";`);
  }

}
