/**
 * The API's live updates (GET /v1/events, Server-Sent Events) read over fetch() rather than
 * EventSource: EventSource cannot send an Authorization header, and the stream needs the same
 * credential as the rest of the API. The parser follows the HTML standard's "event stream
 * interpretation" (§9.2.6) so the stream stays readable by any SSE client, curl included.
 */

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  data: string;
  /** The last `id:` seen, carried as Last-Event-ID on reconnect. */
  id: string | null;
}

/** Incremental parser: feed it text as it arrives (chunks may split lines anywhere). */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private hasData = false;
  lastId: string | null = null;
  /** A `retry:` field from the server, in ms. */
  retry: number | null = null;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    // Lines end with CRLF, LF or CR. A CR at the very end may be the first half of a CRLF: wait.
    for (;;) {
      const m = /\r\n|\n|\r/.exec(this.buffer);
      if (!m) break;
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // a comment (": keepalive")
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      // Other fields are ignored, as the standard says.
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const ev = this.hasData ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId } : null;
    this.event = '';
    this.data = [];
    this.hasData = false;
    return ev;
  }
}

/**
 * Exponential backoff with full jitter: 1 s, 2 s, 4 s… up to `max`, each drawn uniformly in
 * [half, all] of the step so that many tabs reconnecting after a broker restart spread out.
 */
export function backoffDelay(attempt: number, base = 1000, max = 30_000, random: () => number = Math.random): number {
  const step = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'waiting'; retryAt: number; reason: string }
  | { kind: 'closed'; reason: string };

export interface EventStreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onEvent(ev: SseEvent): void;
  /** Each time the stream (re)opens: the page reloads its lists, since events may have been missed. */
  onOpen(): void;
  onState(s: StreamState): void;
  /** A 401: the token stopped working; the stream stops and the page returns to the login. */
  onUnauthorized(message: string): void;
  /** A 401/404-like refusal's words, in the API's shape (console/api.ts errorFrom). */
  describe(res: Response): Promise<string>;
}

/** Opens the stream and keeps it open until the returned function is called. */
export function openEventStream(opts: EventStreamOptions): () => void {
  const abort = new AbortController();
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastId: string | null = null;

  const wait = (reason: string, serverRetry: number | null) => {
    if (abort.signal.aborted) return;
    const delay = serverRetry ?? backoffDelay(attempt++);
    opts.onState({ kind: 'waiting', retryAt: Date.now() + delay, reason });
    timer = setTimeout(run, delay);
  };

  const run = async () => {
    opts.onState({ kind: 'connecting' });
    const parser = new SseParser();
    parser.lastId = lastId;
    try {
      const res = await fetch(opts.url, {
        headers: { accept: 'text/event-stream', ...opts.headers(), ...(lastId ? { 'last-event-id': lastId } : {}) },
        cache: 'no-store',
        signal: abort.signal,
      });
      if (res.status === 401) {
        const message = await opts.describe(res);
        opts.onState({ kind: 'closed', reason: message });
        opts.onUnauthorized(message);
        return;
      }
      if (!res.ok || !res.body) return wait(await opts.describe(res), null);
      attempt = 0;
      opts.onState({ kind: 'open' });
      opts.onOpen();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of parser.push(value)) opts.onEvent(ev);
        lastId = parser.lastId;
      }
      wait('the broker closed the event stream', parser.retry);
    } catch (err) {
      if (abort.signal.aborted) return;
      wait(`the event stream broke (${(err as Error).message})`, parser.retry);
    }
  };

  void run();
  return () => {
    abort.abort();
    clearTimeout(timer);
  };
}
