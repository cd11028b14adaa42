import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redisHashTag } from './config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/parley');
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.QUEUE_PREFIX).toBe('{parley}');
    expect(c.WEBHOOKS_ALLOW_LOOPBACK).toBe(false);
  });

  it('names every bad field at once', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'not a url', WEBHOOKS_ALLOW_LOOPBACK: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).message;
    for (const field of ['PORT', 'DATABASE_URL', 'WEBHOOKS_ALLOW_LOOPBACK']) expect(text).toContain(field);
  });

  it('refuses to run in production without a real secret, and treats an empty one as missing', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/PARLEY_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', PARLEY_SECRET: '' })).toThrow(/PARLEY_SECRET/);
    expect(loadConfig({ NODE_ENV: 'production', PARLEY_SECRET: 'x'.repeat(32) }).PARLEY_SECRET).toBe(
      'x'.repeat(32),
    );
  });

  it('parses lists and booleans', () => {
    const c = loadConfig({ TRUSTED_PROXIES: '10.0.0.1, 192.168.0.0/16,', DEMO: 'false' });
    expect(c.TRUSTED_PROXIES).toEqual(['10.0.0.1', '192.168.0.0/16']);
    expect(c.DEMO).toBe(false);
  });

  it('takes several seed URLs only for a cluster, and a cluster only with a hash-tagged prefix', () => {
    const seeds = 'redis://127.0.0.1:7000, redis://127.0.0.1:7001';
    const c = loadConfig({ REDIS_CLUSTER: 'true', REDIS_URL: seeds });
    expect(c.REDIS_CLUSTER).toBe(true);
    expect(c.QUEUE_PREFIX).toBe('{parley}');
    expect(loadConfig({}).REDIS_CLUSTER).toBe(false);
    expect(() => loadConfig({ REDIS_URL: seeds })).toThrow(/REDIS_URL.*REDIS_CLUSTER=true/);
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:7000,not a url' })).toThrow(/REDIS_URL/);
    for (const prefix of ['parley', '{}parley', '{parley', 'parley}'])
      expect(() => loadConfig({ REDIS_CLUSTER: 'true', QUEUE_PREFIX: prefix })).toThrow(
        /QUEUE_PREFIX.*hash tag/,
      );
    expect(loadConfig({ REDIS_CLUSTER: 'yes', QUEUE_PREFIX: '{parley-a}' }).QUEUE_PREFIX).toBe('{parley-a}');
    // Without a cluster any prefix goes (the tests use untagged ones on one server).
    expect(loadConfig({ QUEUE_PREFIX: 'parley' }).QUEUE_PREFIX).toBe('parley');
  });

  it('finds the hash tag as Redis Cluster does', () => {
    expect(redisHashTag('{parley}:moderate:wait')).toBe('parley');
    expect(redisHashTag('app:{parley}')).toBe('parley');
    expect(redisHashTag('{}{parley}')).toBeNull();
    expect(redisHashTag('{a}{b}')).toBe('a');
    expect(redisHashTag('parley')).toBeNull();
  });
});
