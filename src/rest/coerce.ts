/**
 * Coercion of REST inputs the way seed 000 documents them: booleans as 0/1 (true/false accepted too), dates as
 * Y-m-d, integers with bounds, per_page capped at 100. Failures are 400s naming the parameter.
 */
import { AppError } from '../shared/errors.js';
import { parseDay } from '../shared/validation.js';

type Raw = unknown;

/** `0`/`1`/`true`/`false` (query strings) or a JSON boolean; undefined when absent. */
export function bool(value: Raw, field: string): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === '1' || value === 'true') return true;
  if (value === 0 || value === '0' || value === 'false') return false;
  throw AppError.badInput(`${field}: must be a boolean (0 or 1)`);
}

/** An integer within bounds; undefined when absent. */
export function int(value: Raw, field: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw AppError.badInput(`${field}: must be an integer`);
  if (n < min || n > max) throw AppError.badInput(`${field}: must be between ${min} and ${max}`);
  return n;
}

/** GraphQL's Int: a 32-bit signed integer. */
const GRAPHQL_INT_MIN = -2_147_483_648;
const GRAPHQL_INT_MAX = 2_147_483_647;

/**
 * An integer whose range the service checks (with the field's own message), for a field whose range lies within
 * GraphQL's Int. A value beyond Int cannot travel as one (graphql-js answered `Int cannot represent non 32-bit signed
 * integer value`): it is passed as the nearest Int, which is outside the field's range all the same.
 */
export function serviceInt(value: Raw, field: string): number | undefined {
  // However many digits: a number too long to read is beyond Int all the same (as in `capped`).
  if (typeof value === 'string' && /^\s*-?\d{16,}\s*$/.test(value)) return value.trim().startsWith('-') ? GRAPHQL_INT_MIN : GRAPHQL_INT_MAX;
  const n = int(value, field, -Infinity, Infinity);
  return n === undefined ? undefined : Math.min(Math.max(n, GRAPHQL_INT_MIN), GRAPHQL_INT_MAX);
}

/**
 * A count that values over `cap` are clamped to, however many digits they have (a number too long to read is over it
 * all the same); below 1 rejected; undefined when absent.
 */
export function capped(value: Raw, field: string, cap: number): number | undefined {
  if (typeof value === 'string' && /^\s*\d{16,}\s*$/.test(value)) return cap;
  const n = int(value, field);
  // No upper bound to name: values over the cap are clamped (it read "must be between 1 and 9007199254740991").
  if (n !== undefined && n < 1) throw AppError.badInput(`${field}: must be at least 1`);
  return n === undefined ? undefined : Math.min(n, cap);
}

/** Page size: default 50, values over 100 clamped to 100 (as documented), below 1 rejected. */
export function perPage(value: Raw, fallback = 50, cap = 100): number {
  return capped(value, 'per_page', cap) ?? fallback;
}

/** `page` and `per_page` (or seed 004's `page_size`, see `aliased`) of a paginated list, as operation variables. */
export function pageParams(req: { readonly query: Readonly<Record<string, unknown>> }): { page: number | undefined; perPage: number } {
  return { page: int(req.query.page, 'page', 1, 1_000_000), perPage: perPage(aliased(req.query, 'per_page', 'page_size')) };
}

/** A calendar date `Y-m-d`, validated (2024-02-30 is refused); returned as the same string. */
export function date(value: Raw, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw AppError.badInput(`${field}: must be a date in Y-m-d format`);
  parseDay(value, field);
  return value;
}

/** A string, or undefined; numbers are not silently accepted as strings for required text. */
export function text(value: Raw, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw AppError.badInput(`${field}: must be a string`);
  return value;
}

/** A list given in a query string: repeated (`?ids=1&ids=2`, already an array), comma-separated or a single value. */
export function queryList(value: Raw): unknown {
  return typeof value === 'string' ? value.split(',').map((v) => v.trim()) : value;
}

/** An array of strings (JSON body). */
export function stringArray(value: Raw, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw AppError.badInput(`${field}: must be an array of strings`);
  return value as string[];
}

/** The JSON body as an object (a missing body is `{}`; an array or scalar is a 400). */
export function body(value: Raw): Record<string, unknown> {
  if (value === undefined || value === null || value === '') return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw AppError.badInput('Request body must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * A write route's parameters: the JSON body's fields, and those of `known` given in the query string instead (seed
 * 000 lists parameters without saying where they go, and some legacy clients send `?is_starred=1`), the body winning.
 * Unknown body fields are refused; other query parameters are ignored, as on GET.
 */
export function params(req: { readonly body: unknown; readonly query: Readonly<Record<string, unknown>> }, known: readonly string[]): Record<string, unknown> {
  const b = body(req.body);
  onlyKnown(b, known);
  const fromQuery = known.filter((k) => req.query[k] !== undefined && !Object.hasOwn(b, k)).map((k) => [k, req.query[k]]);
  return { ...Object.fromEntries(fromQuery), ...b };
}

/** Rejects body fields that the route does not know, naming them (catches typos like `is_actve`). */
export function onlyKnown(input: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(input).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw AppError.badInput(`Unknown field(s): ${unknown.join(', ')}`);
}

/**
 * A parameter that another API spells differently (seed 004's `page_size` for seed 000's `per_page`): either name
 * works; both with different values is a 400 naming them.
 */
export function aliased(query: Readonly<Record<string, unknown>>, name: string, alias: string): unknown {
  const a = query[name];
  const b = query[alias];
  const given = (v: unknown) => v !== undefined && v !== null && v !== '';
  if (given(a) && given(b) && a !== b) throw AppError.badInput(`${alias}: same parameter as ${name}; give one of them`);
  return given(a) ? a : b;
}

/** Seed 004's `ordering` (Django style: a field, `-` for descending) → seed 000's sort fields. */
const ORDERING_FIELDS: Readonly<Record<string, string>> = { date: 'received_at', subject: 'subject', sender: 'from_address' };

/**
 * `sort` and `order` from seed 000's parameters or seed 004's `ordering` (`-date`, `subject`, `sender`; the default
 * is `-date`); combining the two spellings is a 400.
 */
export function sortParams(query: Readonly<Record<string, unknown>>): { sort: string | undefined; order: string | undefined } {
  const sort = text(query.sort, 'sort');
  const order = text(query.order, 'order');
  const ordering = text(query.ordering, 'ordering')?.trim();
  if (!ordering) return { sort, order };
  if (sort || order) throw AppError.badInput('ordering: cannot be combined with sort/order (give one spelling)');
  const desc = ordering.startsWith('-');
  const field = ORDERING_FIELDS[(desc ? ordering.slice(1) : ordering).toLowerCase()];
  if (!field) throw AppError.badInput(`ordering: unknown field "${ordering}" (allowed: ${Object.keys(ORDERING_FIELDS).join(', ')}, each with - for descending)`);
  return { sort: field, order: desc ? 'desc' : 'asc' };
}
