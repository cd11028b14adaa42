import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { toAppError } from './errors';

describe('toAppError', () => {
  it('keeps a code a client can act on for the HTTP errors of middleware it did not write', () => {
    // The app's own body limit throws AppError; a stock middleware (hono's bodyLimit without
    // onError, say) throws HTTPException, and must still read as too large, not as a bad request.
    const tooLarge = toAppError(new HTTPException(413));
    expect([tooLarge.status, tooLarge.code]).toEqual([413, 'payload_too_large']);
    const mediaType = toAppError(new HTTPException(415, { message: 'Unsupported Media Type' }));
    expect([mediaType.status, mediaType.code]).toEqual([415, 'unsupported_media_type']);
    const other = toAppError(new HTTPException(400, { message: 'Malformed' }));
    expect([other.status, other.code, other.message]).toEqual([400, 'bad_request', 'Malformed']);
    expect(toAppError(new Error('boom')).code).toBe('internal');
  });
});
