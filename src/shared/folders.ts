/** IMAP's INBOX is case-insensitive (RFC 3501 §5.1): `inbox` and `Inbox` name it too. Other folder names are exact. */
export const inboxCase = (folder: string): string => (folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder);
