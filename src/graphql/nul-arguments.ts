/**
 * Refuses NUL characters in resolver arguments, before any resolver runs. This is the one place every input passes:
 * /graphql, the REST routes (each runs a GraphQL operation) and graphql-ws execute the same schema, and type-graphql
 * calls its `validateFn` with every resolver's arguments. PostgreSQL text cannot hold NUL, so a value carrying one
 * failed only at the database, as a protocol violation that read like an outage (503); checking each stored field
 * separately would miss the next one added.
 */
import type { ValidatorFn } from '../modules/type-graphql.js';
import { AppError } from '../shared/errors.js';
import { fieldName, findNul, NUL_MESSAGE } from '../shared/validation.js';

/**
 * type-graphql's `validateFn`. It is called once per declared argument, but checks the field's whole argument map
 * (`args`), which names them: `validateFn` gets no name with the value. The message names the field as the REST body
 * spells it (`name`, `sync_folders.1`), so the wrapping input object (`input`, `filter`) is left out; a plain argument
 * keeps its own name (`q`).
 */
export const rejectNulArguments: ValidatorFn = (_value, _type, { args }) => {
  const path = findNul(args);
  if (!path) return;
  const [arg, ...inner] = path;
  const wrapper = args[arg as string];
  const field = inner.length > 0 && typeof wrapper === 'object' && !Array.isArray(wrapper) ? inner : path;
  throw AppError.badInput(`${fieldName(field)}: ${NUL_MESSAGE}`, { fields: [path.map(String).join('.')] });
};
