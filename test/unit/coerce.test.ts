import { describe, expect, it } from 'vitest';
import { body, bool, capped, date, int, onlyKnown, perPage, serviceInt } from '../../src/rest/coerce.js';
import { parseId } from '../../src/shared/ids.js';

describe('REST coercion', () => {
  it('booleans as 0/1', () => {
    expect(bool('1', 'x')).toBe(true);
    expect(bool('0', 'x')).toBe(false);
    expect(bool('true', 'x')).toBe(true);
    expect(bool(false, 'x')).toBe(false);
    expect(bool(undefined, 'x')).toBeUndefined();
    expect(() => bool('yes please', 'is_read')).toThrow(/is_read/);
  });

  it('dates as Y-m-d, real calendar dates only', () => {
    expect(date('2024-01-15', 'since')).toBe('2024-01-15');
    expect(() => date('2024-02-30', 'since')).toThrow(/since/);
    expect(() => date('15/01/2024', 'until')).toThrow(/until.*Y-m-d/);
  });

  it('per_page defaults to 50 and is clamped to 100', () => {
    expect(perPage(undefined)).toBe(50);
    expect(perPage('500')).toBe(100);
    // Over the cap however long: not 'must be an integer' for a number too long to read.
    expect(perPage('99999999999999999999')).toBe(100);
    expect(capped('3000000000', 'limit', 50)).toBe(50);
    expect(capped(undefined, 'limit', 50)).toBeUndefined();
    expect(() => capped('-99999999999999999999', 'limit', 50)).toThrow(/limit/);
    expect(perPage('20')).toBe(20);
    expect(() => perPage('0')).toThrow('per_page: must be at least 1');
    expect(() => capped('-5', 'limit', 50)).toThrow('limit: must be at least 1');
    expect(() => perPage('ten')).toThrow(/per_page/);
  });

  it('integers with bounds', () => {
    expect(int('993', 'port', 1, 65535)).toBe(993);
    expect(() => int('70000', 'port', 1, 65535)).toThrow(/port/);
    expect(() => int('1.5', 'port')).toThrow(/port/);
  });

  it('integers the service range-checks are passed within GraphQL Int, the nearest Int beyond it', () => {
    expect(serviceInt(993, 'port')).toBe(993);
    expect(serviceInt('993', 'port')).toBe(993);
    expect(serviceInt(undefined, 'port')).toBeUndefined();
    expect(serviceInt(1e10, 'port')).toBe(2_147_483_647);
    expect(serviceInt(1e300, 'port')).toBe(2_147_483_647);
    expect(serviceInt(-1e10, 'port')).toBe(-2_147_483_648);
    expect(serviceInt('99999999999999999999', 'port')).toBe(2_147_483_647);
    expect(serviceInt('-99999999999999999999', 'port')).toBe(-2_147_483_648);
    expect(() => serviceInt(1.5, 'port')).toThrow(/port: must be an integer/);
    expect(() => serviceInt('ten', 'port')).toThrow(/port: must be an integer/);
  });

  it('bodies must be objects; unknown fields are named', () => {
    expect(body(undefined)).toEqual({});
    expect(() => body([1])).toThrow(/JSON object/);
    expect(() => onlyKnown({ nme: 1 }, ['name'])).toThrow(/nme/);
  });

  it('ids', () => {
    expect(parseId('42')).toBe(42);
    expect(() => parseId('abc')).toThrow(/id/);
    expect(() => parseId('0')).toThrow();
    expect(() => parseId('99999999999')).toThrow();
  });
});
