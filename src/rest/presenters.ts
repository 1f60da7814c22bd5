/**
 * GraphQL results → the documented REST shapes (snake_case, integer ids). One mapper per resource, shared by every
 * route that returns it.
 */
import type { AccountFieldsFragment, AccountStatsFieldsFragment, FolderSyncStateFieldsFragment } from '../graphql/generated/operations.js';

export const restId = (id: string): number => Number(id);

/**
 * A timestamp as seed 000 writes them, `2024-01-15T10:30:00Z`: whole seconds (GraphQL's DateTime carries milliseconds,
 * which fixed-format parsers of legacy clients refuse). Null when absent.
 */
export function restTime(iso: string | null | undefined): string | null {
  return iso ? iso.replace(/\.\d+Z$/, 'Z') : null;
}

export function restAccountStats(s: AccountStatsFieldsFragment) {
  return {
    total_emails: s.totalEmails,
    unread_emails: s.unreadEmails,
    with_attachments: s.withAttachments,
    by_folder: s.byFolder.map((f) => ({ folder: f.folder, count: f.count })),
    latest_email_at: restTime(s.latestEmailAt),
    oldest_email_at: restTime(s.oldestEmailAt),
  };
}

export function restFolderState(f: FolderSyncStateFieldsFragment) {
  return {
    folder: f.folder,
    uid_validity: f.uidValidity ?? null,
    uid_next: f.uidNext,
    messages: f.messages,
    last_sync_at: restTime(f.lastSyncAt),
    last_error: f.lastError ?? null,
  };
}

export function restAccount(a: AccountFieldsFragment & { stats?: AccountStatsFieldsFragment | null; folderStates?: FolderSyncStateFieldsFragment[] }) {
  return {
    id: restId(a.id),
    name: a.name,
    email: a.email,
    host: a.host,
    port: a.port,
    username: a.username,
    encryption: a.encryption,
    is_active: a.isActive,
    sync_folders: a.syncFolders,
    delete_mode: a.deleteMode,
    connected: a.connected,
    last_sync_at: restTime(a.lastSyncAt),
    last_error: a.lastError ?? null,
    sync_paused_at: restTime(a.syncPausedAt),
    created_at: restTime(a.createdAt),
    updated_at: restTime(a.updatedAt),
    ...(a.stats ? { stats: restAccountStats(a.stats) } : {}),
    ...(a.folderStates ? { folders: a.folderStates.map(restFolderState) } : {}),
  };
}
