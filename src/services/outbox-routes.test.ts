import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../db/schema';
import { uuidv7 } from '../lib/ids';
import {
  MODERATE_JOB_MAX_COMMENTS,
  type ModerateJob,
  moderateJobComments,
  moderateJobId,
  QUEUE,
} from '../queue';
import { attachModerationHint, jobsForRows } from './outbox-routes';

const row = (id: number, topic = 'comment.submitted'): OutboxRow => ({
  id: String(id),
  topic,
  site_id: 'site_x',
  comment_id: uuidv7(),
  payload: {},
  request_id: `req-${id}`,
  created_at: new Date(),
  published_at: null,
  batched: false,
});

const moderateJobs = (rows: OutboxRow[]) => jobsForRows(rows).filter((j) => j.queue === QUEUE.moderate);

describe('moderate jobs from comment.submitted rows', () => {
  it('puts the comments published together into jobs of at most one worker batch, in order', () => {
    const rows = Array.from({ length: 2 * MODERATE_JOB_MAX_COMMENTS + 7 }, (_, i) => row(i + 1));
    const jobs = moderateJobs([...rows, row(999, 'comment.published')]);
    expect(jobs.map((j) => moderateJobComments(j.data as never).length)).toEqual([
      MODERATE_JOB_MAX_COMMENTS,
      MODERATE_JOB_MAX_COMMENTS,
      7,
    ]);
    const covered = jobs.flatMap((j) => moderateJobComments(j.data as never));
    expect(covered.map((c) => c.commentId)).toEqual(rows.map((r) => r.comment_id));
    expect(covered.map((c) => c.requestId)).toEqual(rows.map((r) => r.request_id));
    expect(new Set(jobs.map((j) => j.jobId)).size).toBe(3);
    for (const j of jobs) expect(j.jobId).not.toContain(':');
  });

  it('gives the same grouping the same job id (a repeated relay adds it once), and a lone comment the sweep id', () => {
    const rows = [row(1), row(2), row(3)];
    expect(moderateJobs(rows).map((j) => j.jobId)).toEqual(moderateJobs(rows).map((j) => j.jobId));
    const [lone] = moderateJobs([rows[0]!]);
    expect(lone?.jobId).toBe(moderateJobId(rows[0]!.comment_id!));
    expect(lone?.data).toEqual({ commentId: rows[0]!.comment_id, requestId: 'req-1' });
  });

  it('makes no moderate job for other topics', () => {
    expect(moderateJobs([row(1, 'comment.published'), row(2, 'comment.held')])).toEqual([]);
  });

  it('carries the hint the API attached to a row, and none for a row read back from Postgres', () => {
    const [hinted, plain] = [row(1), row(2)];
    const hint = {
      siteId: 'site_x',
      articleId: uuidv7(),
      createdAt: Date.now(),
      emailHash: 'e'.repeat(64),
      ipHash: null,
      simhash: '-42',
    };
    attachModerationHint(hinted!, hint);
    const [job] = moderateJobs([hinted!, plain!]);
    const comments = moderateJobComments(job!.data as unknown as ModerateJob);
    expect(comments.map((c) => c.hint ?? null)).toEqual([hint, null]);
    // A copy of the row (as the relay reads it) has no hint.
    const [again] = moderateJobs([{ ...hinted! }]);
    expect(moderateJobComments(again!.data as unknown as ModerateJob)[0]!.hint).toBeUndefined();
  });
});

describe('moderate jobs from comment.edited rows', () => {
  it('moderates each revision in a job of its own, never under the first job id (BullMQ would ignore it)', () => {
    const edited = (revision: unknown, id = 1) => ({ ...row(id, 'comment.edited'), payload: { revision } });
    const first = edited(1);
    const [job, ...rest] = moderateJobs([first]);
    expect(rest).toEqual([]);
    expect(job?.jobId).toBe(`mod-${first.comment_id}-r1`);
    expect(job?.jobId).not.toBe(moderateJobId(first.comment_id!));
    expect(job?.jobId).not.toContain(':');
    expect(job?.data).toEqual({ commentId: first.comment_id, requestId: 'req-1' });
    // Relayed twice: the same id, so added once; the next edit: a new one.
    expect(moderateJobs([{ ...first }])[0]?.jobId).toBe(job?.jobId);
    const second = { ...first, id: '2', payload: { revision: 2 } };
    expect(moderateJobs([second])[0]?.jobId).toBe(`mod-${first.comment_id}-r2`);
    expect(moderateJobId(first.comment_id!, 2)).toBe(`mod-${first.comment_id}-r2`);
    // A row without a usable revision makes no job rather than one the first id would swallow.
    expect(moderateJobs([edited(undefined), edited(0), edited('x')])).toEqual([]);
  });
});
