/** The shape of one REST route: a documented /api path mapped to a GraphQL operation. */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: unknown;
}

/** What a route answers inside `{"success": true, ...}`. */
export interface RestResult {
  data?: unknown;
  message?: string;
  meta?: unknown;
  /** Response headers beside the body (additions the documented shapes have no place for). */
  headers?: Readonly<Record<string, string>>;
}

export interface RestRoute<TData = unknown, TVars = Record<string, unknown>> {
  readonly method: HttpMethod;
  /** Fastify path syntax: `/api/accounts/:id`. */
  readonly path: string;
  readonly operation: TypedDocumentNode<TData, TVars>;
  /** Coerces params/query/body into operation variables (throws 400s naming the field). */
  readonly variables: (req: RestRequest) => TVars;
  /** Maps the operation result to the documented response. */
  readonly respond: (data: TData) => RestResult;
  readonly status?: number;
  /**
   * Required when the operation has side effects (a mutation) on a GET: what answers HEAD instead, with the same
   * variables, so HEAD gets the same status and headers and changes nothing. HEAD must be safe (RFC 9110 §9.2.1), but
   * Fastify answers it by running the GET handler unless told otherwise.
   */
  readonly head?: HeadVariant;
}

/** A side-effect-free operation and its mapping to the GET's response (types erased like `route`). */
export interface HeadVariant {
  readonly operation: TypedDocumentNode;
  readonly respond: (data: unknown) => RestResult;
}

/** Types a HEAD stand-in against its own document. */
export function headVariant<TData, TVars>(operation: TypedDocumentNode<TData, TVars>, respond: (data: TData) => RestResult): HeadVariant {
  return { operation, respond } as unknown as HeadVariant;
}

/** Keeps each route's data/variables types tied to its document while the table holds mixed routes. */
export function route<TData, TVars>(r: RestRoute<TData, TVars>): RestRoute {
  return r as unknown as RestRoute;
}
