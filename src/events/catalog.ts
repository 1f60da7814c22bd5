/** The event catalog: names and payload shapes of everything clients can observe. */
export const EVENT_TYPES = [
  'email.received',
  'email.updated',
  'email.deleted',
  'email.moved',
  'email.categorized',
  'voicemail.received',
  'sync.completed',
  'sync.failed',
  'thread.updated',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EmailReceivedPayload {
  emailId: number;
  accountId: number;
  folder: string;
  messageId: string | null;
  subject: string | null;
  fromAddress: string | null;
  fromName: string | null;
  receivedAt: string;
  hasAttachments: boolean;
}

export interface EmailUpdatedPayload {
  emailId: number;
  accountId: number;
  folder: string;
  changes: Record<string, unknown>;
}

export interface EmailDeletedPayload {
  emailId: number;
  accountId: number;
  folder: string;
  messageId: string | null;
}

/** A message moved on the server from one synced folder to another: the email keeps its id and local state. */
export interface EmailMovedPayload {
  emailId: number;
  accountId: number;
  folder: string;
  fromFolder: string;
  messageId: string | null;
}

export interface SyncCompletedPayload {
  accountId: number;
  runId: string;
  new: number;
  updated: number;
  deleted: number;
  failed: number;
  durationMs: number;
  folders: string[];
}

export interface SyncFailedPayload {
  accountId: number;
  runId: string;
  error: string;
  folder: string | null;
}

/**
 * Seed 004's "Thread updates": stored emails joined an existing conversation (a reply arrived, or two threads were
 * found to be one). A new email that starts its own thread is only `email.received`.
 */
export interface ThreadUpdatedPayload {
  threadId: number;
  accountId: number;
  /** The emails that joined the thread with this change. */
  emailIds: number[];
  messageCount: number;
  lastMessageAt: string | null;
  subject: string | null;
}

export interface EventPayloads {
  'email.received': EmailReceivedPayload;
  'email.updated': EmailUpdatedPayload;
  'email.deleted': EmailDeletedPayload;
  'email.moved': EmailMovedPayload;
  'email.categorized': Record<string, unknown>;
  'voicemail.received': Record<string, unknown>;
  'sync.completed': SyncCompletedPayload;
  'sync.failed': SyncFailedPayload;
  'thread.updated': ThreadUpdatedPayload;
}

/** An event to append: `identity` names what happened (e.g. the message's content identity), not when. */
export interface NewEvent<T extends EventType = EventType> {
  type: T;
  accountId: number | null;
  identity: string;
  payload: EventPayloads[T];
}
