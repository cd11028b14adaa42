/** Redis connections and BullMQ queues, shared by the API (producer) and the workers. */
import { type JobsOptions, Queue } from 'bullmq';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type Config, redisUrls } from './config';

export const QUEUE = {
  moderate: 'moderate',
  /** Moderator decisions teaching each site's adaptive model (see workers/learn.ts). */
  learn: 'learn',
  /** Domain events fanned out to webhook endpoints (see the webhooks feature). */
  events: 'events',
  /** One job per webhook delivery attempt (see src/webhooks and workers/webhooks.ts). */
  webhooks: 'webhooks',
} as const;

export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

// BullMQ stores job data in clear text in Redis (completed moderate jobs for up to an hour), so a
// payload carries ids and keyed hashes only, never a body, a name, an e-mail address or an IP.

/**
 * What the worker's lookups (author history, near-duplicates, posting velocity) need to know about
 * a comment, sent with its job by the API that has just written it, so those lookups start at once
 * instead of after the comment has been read back: one round trip fewer before a decision.
 * Only columns that never change after insert; the body, the status and the article's state are
 * still read from Postgres, and a job without a hint (relay, sweep, retry) reads everything first.
 */
export interface ModerationHint {
  siteId: string;
  articleId: string;
  /** created_at, ms since the epoch. */
  createdAt: number;
  emailHash: string | null;
  ipHash: string | null;
  /** The stored fingerprint (signed, as in the simhash column); null when the body is too short. */
  simhash: string | null;
}

export interface ModerateJobComment {
  commentId: string;
  requestId: string | null;
  hint?: ModerationHint;
}

export interface ModerateJob {
  commentId: string;
  requestId?: string | null;
  hint?: ModerationHint;
  /**
   * Further comments submitted in the same ingest batch, decided by the same job. One BullMQ job
   * per batch instead of one per comment: its add, fetch, lock and completion (several Redis
   * scripts each) were the largest per-comment cost left in the API and the worker.
   */
  more?: ModerateJobComment[];
}

/** The comments a moderate job decides, the first one first. */
export function moderateJobComments(data: ModerateJob): ModerateJobComment[] {
  const first: ModerateJobComment = { commentId: data.commentId, requestId: data.requestId ?? null };
  if (data.hint) first.hint = data.hint;
  return [first, ...(data.more ?? [])];
}

/** One moderator decision to learn from: the outbox row that announced it (ids and a label only). */
export interface LearnJob {
  outboxId: string;
  siteId: string;
  commentId: string;
  label: 'ok' | 'spam' | 'toxic';
}

export type RedisRole = 'producer' | 'worker' | 'general';

/** One Redis server or a Redis Cluster (REDIS_CLUSTER): BullMQ and every caller accept both. */
export type RedisClient = Redis | Cluster;

/** Where to connect: a URL of one server, or the settings that may name a cluster's seed nodes. */
export type RedisTarget = string | Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER'>;

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

const ROLE_OPTIONS: Record<RedisRole, { maxRetriesPerRequest: number | null; enableOfflineQueue: boolean }> =
  {
    producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    worker: { enableOfflineQueue: true, maxRetriesPerRequest: null },
    general: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  };

const retryStrategy = (times: number) => Math.min(times * 200, 2000);

/**
 * Seed nodes of a cluster from REDIS_URL. Credentials and TLS go to every node: ioredis connects
 * the nodes it discovers with the shared options, not with the seed URL's.
 */
function clusterOptions(url: string): { seeds: Array<{ host: string; port: number }>; auth: RedisOptions } {
  const urls = redisUrls(url).map((u) => new URL(u));
  const seeds = urls.map((u) => ({
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(u.port || 6379),
  }));
  const withAuth = urls.find((u) => u.username || u.password);
  const auth: RedisOptions = {};
  if (withAuth?.username) auth.username = decodeURIComponent(withAuth.username);
  if (withAuth?.password) auth.password = decodeURIComponent(withAuth.password);
  if (urls[0]?.protocol === 'rediss:') auth.tls = {};
  return { seeds, auth };
}

/**
 * One client per role. Producers fail fast while Redis is away (the outbox keeps the work);
 * workers block on commands and must retry forever (BullMQ requires maxRetriesPerRequest: null).
 * With REDIS_CLUSTER the same roles apply to an ioredis Cluster: per-node settings go in
 * redisOptions, the offline queue and reconnects belong to the cluster client.
 */
export function createRedis(target: string, role: RedisRole, extra?: RedisOptions): Redis;
export function createRedis(target: RedisTarget, role: RedisRole, extra?: RedisOptions): RedisClient;
export function createRedis(target: RedisTarget, role: RedisRole, extra: RedisOptions = {}): RedisClient {
  const cluster = typeof target !== 'string' && target.REDIS_CLUSTER;
  const url = typeof target === 'string' ? target : target.REDIS_URL;
  const byRole = ROLE_OPTIONS[role];
  let client: RedisClient;
  if (cluster) {
    const { enableOfflineQueue, enableAutoPipelining, retryStrategy: _ignored, ...nodeExtra } = extra;
    const { seeds, auth } = clusterOptions(url);
    const options: ClusterOptions = {
      lazyConnect: false,
      enableOfflineQueue: enableOfflineQueue ?? byRole.enableOfflineQueue,
      enableAutoPipelining,
      clusterRetryStrategy: retryStrategy,
      // Re-read the slot map every 2 s (ioredis 5 turned this off by default). Without it a client
      // learns of a failover only from MOVED or a closed connection, and a master that hangs with
      // its sockets open sends neither: commands sent to it waited forever after its replica took
      // over, stalling the outbox relay (test/integration/redis-cluster-failover.test.ts, SIGSTOP).
      // The interval bounds that stall, for each client on its own timer: in that drill the last
      // accepted comment was decided 7.0-8.0 s after the promotion at 5 s, and 3.3-4.8 s at 2 s
      // (docs/operations.md). A CLUSTER SLOTS every 2 s per client costs Redis nothing measurable.
      slotsRefreshInterval: 2000,
      redisOptions: {
        connectTimeout: 3000,
        maxRetriesPerRequest: byRole.maxRetriesPerRequest,
        ...auth,
        ...nodeExtra,
      },
    };
    client = new Cluster(seeds, options);
  } else {
    client = new Redis(url, { lazyConnect: false, connectTimeout: 3000, retryStrategy, ...byRole, ...extra });
  }
  // Connection errors are reported by health checks and retried; they must not crash the process.
  client.on('error', () => {});
  return client;
}

/**
 * A second client like `client` that fails fast (one retry, no offline queue). ioredis duplicates
 * a Cluster with (seeds, options) and a Redis with (options), hence the two branches.
 */
export function failFastCopy(client: RedisClient): RedisClient {
  const copy = isCluster(client)
    ? client.duplicate([], {
        enableOfflineQueue: false,
        redisOptions: { ...client.options.redisOptions, maxRetriesPerRequest: 1 },
      })
    : client.duplicate({ maxRetriesPerRequest: 1, enableOfflineQueue: false });
  copy.on('error', () => {});
  return copy;
}

export interface Queues {
  prefix: string;
  moderate: Queue<ModerateJob>;
  learn: Queue<LearnJob>;
  events: Queue;
  webhooks: Queue;
  byName(name: QueueName): Queue;
  close(): Promise<void>;
}

export const moderateJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  // Completed ids are kept for a while so a repeated add is ignored; after that a repeat is
  // harmless anyway because the decision is a compare-and-set.
  removeOnComplete: { age: 3600, count: 50_000 },
  // A job that failed every attempt is dropped so the sweep can enqueue the comment again.
  removeOnFail: true,
};

export function createQueues(connection: RedisClient, prefix: string): Queues {
  const moderate = new Queue<ModerateJob>(QUEUE.moderate, {
    connection,
    prefix,
    defaultJobOptions: moderateJobOptions,
  });
  const events = new Queue(QUEUE.events, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 3600 },
    },
  });
  const webhooks = new Queue(QUEUE.webhooks, {
    connection,
    prefix,
    // Retries follow the webhook schedule in Postgres, not BullMQ's backoff: one attempt per job.
    defaultJobOptions: {
      attempts: 1,
      removeOnComplete: { age: 600, count: 10_000 },
      removeOnFail: { age: 3600 },
    },
  });
  const learn = new Queue<LearnJob>(QUEUE.learn, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      // A label applied twice is prevented in Postgres (adaptive_labels), so ids need not live long.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    },
  });
  const all = { moderate, learn, events, webhooks } as Record<QueueName, Queue>;
  return {
    prefix,
    moderate,
    learn,
    events,
    webhooks,
    byName: (name) => all[name],
    close: async () => {
      await Promise.all(Object.values(all).map((q) => q.close()));
    },
  };
}

/**
 * Job ids must not contain ':' nor be all digits (BullMQ). An edited comment's text is a new
 * revision with an id of its own: BullMQ ignores an add whose id still exists (a completed job
 * is kept for an hour), so re-using the first id would leave the edit undecided until the sweep.
 */
export function moderateJobId(commentId: string, revision = 0): string {
  return revision > 0 ? `mod-${commentId}-r${revision}` : `mod-${commentId}`;
}

/**
 * A job for several comments is named after its first comment and its size: the same rows
 * relayed in the same grouping add it once; a different grouping (the relay racing the eager
 * publish) adds a second job whose comments the compare-and-set then skips.
 */
export function moderateBatchJobId(commentIds: string[]): string {
  return commentIds.length === 1
    ? moderateJobId(commentIds[0]!)
    : `mod-${commentIds[0]}-n${commentIds.length}`;
}

/** Comments per moderate job: the worker's own batch size, so one job fills one batch. */
export const MODERATE_JOB_MAX_COMMENTS = 100;

export function learnJobId(outboxId: string | number): string {
  return `learn-${outboxId}`;
}
