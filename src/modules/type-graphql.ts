/**
 * type-graphql's decorators, re-exported after loading the `reflect-metadata` polyfill they require (even with
 * explicit type functions). Modules import decorators from here so the polyfill is always loaded first.
 */
import 'reflect-metadata';

export * from 'type-graphql';
