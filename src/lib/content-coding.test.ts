import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { COMPRESS_MIN_BYTES, chooseCoding, compressText, pickForm } from './content-coding';

describe('chooseCoding', () => {
  it('follows the q-values of Accept-Encoding, brotli winning ties', () => {
    const cases: [string | undefined, 'br' | 'gzip' | null][] = [
      // What browsers send.
      ['gzip, deflate, br', 'br'],
      ['gzip, deflate, br, zstd', 'br'],
      ['gzip, deflate', 'gzip'],
      ['GZIP', 'gzip'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=1.0, gzip;q=0.8', 'br'],
      ['gzip;q=0', null],
      ['br;q=0, gzip;q=0.001', 'gzip'],
      ['*', 'br'],
      ['*;q=0, identity', null],
      ['identity', null],
      ['deflate', null],
      ['gzip;q=nonsense', null],
      // Nothing acceptable at all: the body as it is is still the most useful answer.
      ['identity;q=0', null],
      ['', null],
      [undefined, null],
    ];
    for (const [header, want] of cases) {
      expect(chooseCoding(header), String(header)).toBe(want);
      // The remembered answer is the same as the first.
      expect(chooseCoding(header), `again: ${header}`).toBe(want);
    }
  });
});

describe('compressText', () => {
  it('makes brotli and gzip forms that decompress to the text, multi-byte characters included', async () => {
    const text = JSON.stringify({
      comments: Array.from({ length: 30 }, (_, i) => ({ id: i, body: `Grüße aus Köln — 第${i}条 🎉 ` })),
    });
    const forms = await compressText(text);
    expect(forms).toBeDefined();
    expect(brotliDecompressSync(forms!.br).toString('utf8')).toBe(text);
    expect(gunzipSync(forms!.gzip).toString('utf8')).toBe(text);
    expect(forms!.br.length).toBeLessThan(Buffer.byteLength(text) / 2);
  });

  it('leaves bodies under COMPRESS_MIN_BYTES alone, counting bytes, not characters', async () => {
    expect(await compressText('x'.repeat(COMPRESS_MIN_BYTES - 1))).toBeUndefined();
    expect(await compressText('x'.repeat(COMPRESS_MIN_BYTES))).toBeDefined();
    // 400 characters, 1,200 bytes in UTF-8.
    expect(await compressText('€'.repeat(400))).toBeDefined();
  });
});

describe('pickForm', () => {
  it('sends the chosen form, or the text when there is none or none is accepted', async () => {
    const text = 'a thread page '.repeat(100);
    const forms = await compressText(text);
    expect(pickForm(text, forms, 'gzip')).toEqual({ body: forms!.gzip, coding: 'gzip' });
    expect(pickForm(text, forms, 'gzip, br')).toEqual({ body: forms!.br, coding: 'br' });
    expect(pickForm(text, forms, undefined)).toEqual({ body: text, coding: null });
    expect(pickForm(text, undefined, 'gzip, br')).toEqual({ body: text, coding: null });
  });
});
