/**
 * Records the SQL text of every statement sent through the pg driver in this process — the in-process server's
 * (MikroORM's pool), not another process's — until `restore()`: tests count what a request sends to PostgreSQL.
 */
import pg from 'pg';

export interface QuerySpy {
  /** Each statement's text, in the order sent. */
  seen: string[];
  restore(): void;
}

export function spyOnQueries(): QuerySpy {
  const original = pg.Client.prototype.query;
  const seen: string[] = [];
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { text?: string };
    seen.push(typeof q === 'string' ? q : (q?.text ?? ''));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return {
    seen,
    restore: () => {
      pg.Client.prototype.query = original;
    },
  };
}
