import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const ENCRYPTIONS = ['ssl', 'tls', 'none'] as const;
export type Encryption = (typeof ENCRYPTIONS)[number];

/** What deleting an email does on the server: move it to the Trash folder (default) or flag it \Deleted and expunge. */
export const DELETE_MODES = ['trash', 'expunge'] as const;
export type DeleteMode = (typeof DELETE_MODES)[number];

/** An IMAP mail account. The password is sealed with AES-256-GCM (bound to the row id) and never leaves the service. */
export const Account = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  // Stricter in the database: the unique index accounts_mailbox_identity compares email and host without case (and the
  // host without a trailing dot); hand-written in its migration (an expression index), a clash is a 409 either way.
  uniques: [{ properties: ['email', 'host', 'username'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(100),
    email: p.string().length(320),
    host: p.string().length(255),
    port: p.integer(),
    username: p.string().length(320),
    passwordSealed: p.text(),
    encryption: p.enum(ENCRYPTIONS).default('ssl'),
    isActive: p.boolean().default(false),
    syncFolders: p.json<string[]>(),
    connected: p.boolean().default(false),
    lastSyncAt: p.datetime().nullable(),
    lastError: p.text().nullable(),
    /** Set when the server rejected the credentials: sync waits for the account to be updated (no reconnect storm). */
    syncPausedAt: p.datetime().nullable(),
    deleteMode: p.enum(DELETE_MODES).default('trash'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Account = InferEntity<typeof Account>;
