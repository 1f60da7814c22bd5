/** Parts mail clients show differently from how mailparser hands them over: forwarded messages attached without a name (embedded-message.ts). */
import { describe, expect, it } from 'vitest';
import { parseMessage, type ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import { useTempBlobStore } from '../support/blob-store.js';

const env = useTempBlobStore('parse-parts-');
const parse = (raw: string): Promise<ParsedMessage> => parseMessage(Buffer.from(raw.replace(/\r?\n/g, '\r\n')), env.store, { maxBytes: 1 << 20 });

const head = (type: string) => `From: a@example.com\nTo: b@example.com\nSubject: parts\nMIME-Version: 1.0\nContent-Type: ${type}\n\n`;

describe('forwarded messages attached without a name', () => {
  const forward = (inner: string, disposition = 'attachment') =>
    head('multipart/mixed; boundary="M"') + '--M\nContent-Type: text/plain\n\nsee attached\n' +
    `--M\nContent-Type: message/rfc822\nContent-Disposition: ${disposition}\n\n${inner}\n--M--\n`;

  it('are named after their Subject, decoded, without path separators', async () => {
    const m = await parse(forward('From: c@example.com\nSubject: =?UTF-8?Q?R=C3=A9union_Q3/Q4_\\_plan?=\n\nbody'));
    expect(m.attachments.map((a) => [a.filename, a.originalFilename, a.mimeType])).toEqual([['Réunion Q3-Q4 - plan.eml', null, 'message/rfc822']]);
  });

  it('keep an invented name without a Subject, and their own name when they have one', async () => {
    expect((await parse(forward('From: c@example.com\n\nbody'))).attachments[0]!.filename).toBe('attachment-1.eml');
    expect((await parse(forward('From: c@example.com\nSubject:   \n\nbody'))).attachments[0]!.filename).toBe('attachment-1.eml');
    const named = await parse(forward('From: c@example.com\nSubject: inner\n\nbody', 'attachment; filename="saved.eml"'));
    expect(named.attachments[0]!.filename).toBe('saved.eml');
  });
});
