// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

/**
 * The statement-level ban check (2026-12-04T0100) joined the inserted rows with `bans` in one
 * statement whose plan PL/pgSQL keeps for the connection's life, made for the first statement's
 * row count. After a large first batch that plan was a hash join reading every ban: with 200,000
 * bans, 40–70 ms added to each later 30-row insert (the row trigger it replaced cost under 1 ms).
 *
 * - The check is now a lateral lookup per pending row, one index probe per kind: there is no
 *   other way to run it, whatever the row counts. 30-row inserts after a 5,000-row one, 200,000
 *   bans: 0.37–0.40 ms for the check, against 0.67–0.82 ms for the old row trigger.
 * - The rejection itself (rare) runs through EXECUTE, so it is planned for the rows it has.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function parley_reject_banned_rows() returns trigger language plpgsql as $$
    declare
      hit_ids uuid[];
      hit_bans uuid[];
    begin
      select array_agg(n.id order by n.id), array_agg(b.id order by n.id) into hit_ids, hit_bans
        from inserted n
        cross join lateral (
          select x.id from (
            select e.id from bans e
             where e.site_id = n.site_id and e.kind = 'email' and e.value_hash = n.email_hash
               and e.revoked_at is null and (e.expires_at is null or e.expires_at > now())
            union all
            select i.id from bans i
             where i.site_id = n.site_id and i.kind = 'ip' and i.value_hash = n.ip_hash
               and i.revoked_at is null and (i.expires_at is null or i.expires_at > now())
          ) x order by x.id limit 1
        ) b
       where n.status = 'pending';
      if hit_ids is null then return null; end if;
      execute $q$
        with rejected as (
          update comments c set status = 'rejected', decided_at = now(), updated_at = now()
            from unnest($1::uuid[], $2::uuid[]) as h(id, ban_id)
           where c.id = h.id
          returning c.id, c.site_id, c.article_id, c.request_id, h.ban_id
        ), audit as (
          insert into moderation_decisions (comment_id, site_id, actor_type, actor_id, action,
            from_status, to_status, reason_code, reasons)
          select id, site_id, 'system', 'ban:' || ban_id, 'reject', 'pending', 'rejected', 'banned',
            jsonb_build_array(jsonb_build_object('rule', 'ban', 'category', 'ban', 'code', 'banned',
              'score', 1, 'message', 'The author is banned on this site'))
          from rejected
        )
        insert into outbox (topic, site_id, comment_id, payload, request_id)
        select 'comment.rejected', site_id, id,
          jsonb_build_object('articleId', article_id, 'actor', 'system', 'reasonCode', 'banned',
            'reasons', jsonb_build_array(), 'policyVersion', null), request_id
        from rejected
      $q$ using hit_ids, hit_bans;
      return null;
    end $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function parley_reject_banned_rows() returns trigger language plpgsql as $$
    begin
      with hit as (
        select distinct on (n.id) n.id, n.site_id, n.article_id, n.request_id, b.id as ban_id
          from inserted n
          join bans b on b.site_id = n.site_id and b.revoked_at is null
           and (b.expires_at is null or b.expires_at > now())
           and ((b.kind = 'email' and b.value_hash = n.email_hash)
             or (b.kind = 'ip' and b.value_hash = n.ip_hash))
         where n.status = 'pending'
         order by n.id, b.id
      ), rejected as (
        update comments c set status = 'rejected', decided_at = now(), updated_at = now()
          from hit where c.id = hit.id
        returning hit.*
      ), audit as (
        insert into moderation_decisions (comment_id, site_id, actor_type, actor_id, action,
          from_status, to_status, reason_code, reasons)
        select id, site_id, 'system', 'ban:' || ban_id, 'reject', 'pending', 'rejected', 'banned',
          jsonb_build_array(jsonb_build_object('rule', 'ban', 'category', 'ban', 'code', 'banned',
            'score', 1, 'message', 'The author is banned on this site'))
        from rejected
      )
      insert into outbox (topic, site_id, comment_id, payload, request_id)
      select 'comment.rejected', site_id, id,
        jsonb_build_object('articleId', article_id, 'actor', 'system', 'reasonCode', 'banned',
          'reasons', jsonb_build_array(), 'policyVersion', null), request_id
      from rejected;
      return null;
    end $$`.execute(db);
}
