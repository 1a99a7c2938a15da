// The console's Server-Sent Events reader: the parsing rules of the HTML standard (§9.2.6),
// chunks split anywhere, and the reconnect backoff.
import { describe, expect, it } from 'vitest';
import { backoffDelay, SseParser } from '../../console/events.ts';
import { errorFrom } from '../../console/api.ts';

describe('SseParser', () => {
  it('reads the broker’s events and skips comments', () => {
    const p = new SseParser();
    const events = p.push(
      ': connected\n\nevent: payment\ndata: {"payment":{"id":"P1"}}\n\n: keepalive\n\nevent: device\ndata: {"device":{"id":"D"}}\n\n',
    );
    expect(events).toEqual([
      { event: 'payment', data: '{"payment":{"id":"P1"}}', id: null },
      { event: 'device', data: '{"device":{"id":"D"}}', id: null },
    ]);
  });

  it('gives the same events however the text is cut into chunks', () => {
    const text = 'event: payment\r\ndata: a\r\ndata:b\r\nid: 7\r\n\r\ndata: c\r\r\n';
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { event: 'payment', data: 'a\nb', id: '7' },
      { event: 'message', data: 'c', id: '7' },
    ]);
    for (let size = 1; size < 6; size++) {
      const p = new SseParser();
      const got = [];
      for (let i = 0; i < text.length; i += size) got.push(...p.push(text.slice(i, i + size)));
      expect(got, `chunks of ${size}`).toEqual(whole);
    }
  });

  it('does not dispatch an event with no data, nor one cut off before its blank line', () => {
    const p = new SseParser();
    expect(p.push('event: payment\n\nevent: device\ndata: x\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'device', data: 'x', id: null }]);
  });

  it('takes retry: as the server’s reconnect delay and ignores unknown fields', () => {
    const p = new SseParser();
    expect(p.push('retry: 2500\nfoo: bar\nretry: soon\n\n')).toEqual([]);
    expect(p.retry).toBe(2500);
  });
});

describe('backoffDelay', () => {
  it('doubles from 1 s to the cap, each drawn in [half, all] of its step', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 1000, 30_000, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 30_000,
    ]);
    expect(backoffDelay(0, 1000, 30_000, () => 0)).toBe(500);
    expect(backoffDelay(1000, 1000, 30_000, () => 0.5)).toBe(22_500);
  });
});

describe('errorFrom', () => {
  it('keeps the API’s code, message and field', async () => {
    const res = new Response(
      JSON.stringify({ error: { code: 'invalid-field', field: 'amount', message: '"amount" is 1.5: …' } }),
      { status: 400 },
    );
    const e = await errorFrom(res);
    expect([e.status, e.code, e.field, e.message]).toEqual([400, 'invalid-field', 'amount', '"amount" is 1.5: …']);
  });

  it('says what came back when the answer is not the API’s shape', async () => {
    const e = await errorFrom(new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    expect(e.code).toBe('http-502');
    expect(e.message).toBe('502 Bad Gateway: <html>Bad Gateway</html>');
  });
});
