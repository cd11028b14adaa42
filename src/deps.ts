/** Everything the HTTP app needs from outside, passed in so tests can build it with their own. */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import type { Config } from './config';
import type { Logger } from './lib/logger';
import type { Queues, RedisClient } from './queue';
import type { SiteRecord } from './repositories/sites';
import type { Ingestor } from './services/ingest';
import type { SiteCache } from './services/site-cache';

export interface AppDeps {
  config: Config;
  db: Kysely<Database>;
  /** Where public thread reads go: a read replica (DATABASE_READ_URL) or, unset, `db`. */
  readDb?: Kysely<Database>;
  /** General-purpose Redis client (fails fast while Redis is away). */
  redis: RedisClient;
  queues: Queues;
  logger: Logger;
  sites: SiteCache;
  ingest: Ingestor;
  now: () => Date;
}

export interface Principal {
  kind: 'token' | 'session';
  id: string;
  /** The role held on each site this principal may touch. */
  sites: Record<string, 'admin' | 'moderator'>;
  /** Who to record in the audit trail. */
  actorId: string;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    log: Logger;
    site: SiteRecord;
    clientIp: string | undefined;
    principal: Principal;
  };
};
