import { describe, expect, it } from 'vitest';
import { hideSecretValues } from '../../src/graphql/errors.js';

describe('hideSecretValues', () => {
  it('leaves out a secret field’s value, keeping where and what', () => {
    const reason = 'String cannot represent a non string value: 987654321';
    expect(hideSecretValues(`Variable "$i" got invalid value 987654321 at "i.password"; ${reason}`, reason)).toBe(
      'Variable "$i" got invalid value (not shown) at "i.password"; String cannot represent a non string value: (not shown)',
    );
    const arr = 'String cannot represent a non string value: ["a; b"]';
    expect(hideSecretValues(`Variable "$w" got invalid value ["a; b"] at "w.secret"; ${arr}`, arr)).toBe(
      'Variable "$w" got invalid value (not shown) at "w.secret"; String cannot represent a non string value: (not shown)',
    );
  });

  it('leaves out a whole input object that holds one', () => {
    const reason = 'Field "host" of required type "String!" was not provided.';
    expect(hideSecretValues(`Variable "$i" got invalid value { name: "x; y", password: "hunter2" }; ${reason}`, reason)).toBe(
      `Variable "$i" got invalid value (not shown); ${reason}`,
    );
  });

  it('without the reason, the whole value part goes when a secret may be in it', () => {
    expect(hideSecretValues('Variable "$i" got invalid value { password: "hunter2" }; Field "x" is not defined by type "I".', undefined)).toBe(
      'Variable "$i" got invalid value (not shown)',
    );
  });

  it('keeps other values and other messages as they are', () => {
    const reason = 'Int cannot represent non-integer value: "nine"';
    const port = `Variable "$i" got invalid value "nine" at "i.port"; ${reason}`;
    expect(hideSecretValues(port, reason)).toBe(port);
    expect(hideSecretValues('Cannot query field "x" on type "Query".', undefined)).toBe('Cannot query field "x" on type "Query".');
  });
});
