import type { FastifyRequest } from 'fastify';

/** A request header's first value (Node gives repeated headers as an array). */
export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
