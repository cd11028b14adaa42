/**
 * Compressed responses for bodies made once and sent many times: the embed scripts, and thread
 * pages, which a busy article serves thousands of times a second from one rendering. The
 * compressed forms are made with the body, so a request only picks one by its Accept-Encoding.
 *
 * The choice is negotiator's (the content negotiation of Express and Koa), which reads q-values,
 * `*` and `identity` as RFC 9110 says; a header a reader's browser sends is parsed once and the
 * answer kept, since a read must cost next to nothing.
 */
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import Negotiator from 'negotiator';

export type Coding = 'br' | 'gzip';

export interface CompressedForms {
  br: Buffer;
  gzip: Buffer;
}

/** Below this a body goes as it is: the saving would not pay for the work and the header. */
export const COMPRESS_MIN_BYTES = 1024;

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * Brotli and gzip forms of a text body, made on libuv's thread pool; undefined when the body is
 * too small to be worth it. Brotli at quality 5 compresses a thread page about as fast as gzip
 * does and smaller; the top qualities take tens of times longer for a few per cent.
 */
export async function compressText(body: string): Promise<CompressedForms | undefined> {
  const input = Buffer.from(body);
  if (input.length < COMPRESS_MIN_BYTES) return undefined;
  const [br, gz] = await Promise.all([
    brotliAsync(input, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 5,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: input.length,
      },
    }),
    gzipAsync(input, { level: 6 }),
  ]);
  return { br, gzip: gz };
}

type PreferredEncoding = (available: string[], options: { preferred: string[] }) => string | undefined;

const AVAILABLE = ['br', 'gzip', 'identity'];
const chosen = new Map<string, Coding | null>();
/** Distinct Accept-Encoding values kept; browsers send a handful, so this is generous. */
const MAX_REMEMBERED = 256;

/**
 * The coding to send for an Accept-Encoding value, or null for the body as it is (also when the
 * client accepts nothing we have: identity is then still the most useful answer). Brotli wins a
 * tie, being smaller.
 */
export function chooseCoding(acceptEncoding: string | null | undefined): Coding | null {
  if (!acceptEncoding) return null;
  const known = chosen.get(acceptEncoding);
  if (known !== undefined) return known;
  const n = new Negotiator({ headers: { 'accept-encoding': acceptEncoding } });
  // @types/negotiator predates the `preferred` option of negotiator 1.x.
  const pick = (n.encoding as unknown as PreferredEncoding).call(n, AVAILABLE, { preferred: AVAILABLE });
  const coding: Coding | null = pick === 'br' || pick === 'gzip' ? pick : null;
  if (chosen.size >= MAX_REMEMBERED) chosen.clear();
  chosen.set(acceptEncoding, coding);
  return coding;
}

/** The form of a body to send for an Accept-Encoding value, and its Content-Encoding if any. */
export function pickForm(
  body: string,
  forms: CompressedForms | undefined,
  acceptEncoding: string | null | undefined,
): { body: string | Buffer; coding: Coding | null } {
  const coding = forms ? chooseCoding(acceptEncoding) : null;
  return coding ? { body: forms![coding], coding } : { body, coding: null };
}
