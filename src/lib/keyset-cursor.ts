/** Keyset-pagination cursors over (timestamp, uuid): opaque to clients, checked strictly when they come back. */
import { UUID_RE } from './ids';

const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface KeysetCursor {
  at: Date;
  id: string;
}

export function encodeKeysetCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

/**
 * The position a cursor names, or null for anything encodeKeysetCursor did not write. Both parts
 * go into SQL, where an id that is not a uuid or a date Postgres cannot take would fail the query
 * (a 500) instead of being a bad cursor (a 422).
 */
export function decodeKeysetCursor(cursor: string): KeysetCursor | null {
  const [ts, id, ...rest] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!ts || !id || rest.length || !UUID_RE.test(id.toLowerCase())) return null;
  const at = new Date(ts);
  const ms = at.getTime();
  if (Number.isNaN(ms) || ms < 0 || ms > LATEST || at.toISOString() !== ts) return null;
  return { at, id };
}
