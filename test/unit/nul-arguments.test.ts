/** NUL characters in GraphQL arguments (src/graphql/nul-arguments.ts): refused before any resolver, naming the field. */
import { describe, expect, it } from 'vitest';
import { rejectNulArguments } from '../../src/graphql/nul-arguments.js';
import type { ResolverData } from '../../src/modules/type-graphql.js';
import { AppError } from '../../src/shared/errors.js';
import { findNul } from '../../src/shared/validation.js';

const check = (args: Record<string, unknown>) => () => rejectNulArguments(undefined, String, { args } as ResolverData);

describe('rejectNulArguments', () => {
  it('names the field as REST spells it: inside an input object without the wrapper, a plain argument by its name', () => {
    for (const [args, message] of [
      [{ input: { name: 'a\0b' } }, 'name: must not contain NUL characters'],
      [{ id: '1', input: { syncFolders: ['INBOX', '\0'] } }, 'sync_folders.1: must not contain NUL characters'],
      [{ filter: { from: 'x', subject: '\0' } }, 'subject: must not contain NUL characters'],
      [{ q: 'ab\0' }, 'q: must not contain NUL characters'],
      [{ folders: ['\0'] }, 'folders.0: must not contain NUL characters'],
    ] as const) {
      expect(check(args)).toThrow(AppError);
      expect(check(args)).toThrow(message);
    }
  });

  it('lets everything else through: other control characters, numbers, dates, nulls', () => {
    expect(check({ input: { name: 'tab\there', when: new Date(0), n: 3, none: null, list: [1, 'x'] } })).not.toThrow();
    expect(findNul({ a: [{ b: 'ok' }, { c: 'x\0' }] })).toEqual(['a', 1, 'c']);
  });
});
