// Live updates: reads GET /api/v1/stream (server-sent events) and calls back
// on every event, so a wall screen changes the moment a printer reports.
// Read with fetch rather than EventSource so the read token can travel in
// the Authorization header. When the stream cannot be had (an old server, a
// proxy that buffers, the server's cap on live dashboards) the page keeps
// polling; the stream is tried again after a while.

import { authHeaders } from "./api";

export type LiveEvent = { name: string; data: unknown };

const kRetryMs = 5_000;
const kRetryBusyMs = 30_000;

// Splits a text/event-stream into events (WHATWG HTML, "server-sent events":
// lines of "field: value", a blank line ends an event, ":" starts a comment).
export class EventParser {
  private buffer = "";
  private name = "";
  private data: string[] = [];

  push(chunk: string, emit: (e: LiveEvent) => void): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, end);
      const eol = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + eol);
      this.line(line, emit);
    }
  }

  private line(line: string, emit: (e: LiveEvent) => void): void {
    if (line === "") {
      if (this.data.length > 0) {
        const text = this.data.join("\n");
        let data: unknown = text;
        try {
          data = JSON.parse(text);
        } catch {
          // Plain text data stays text.
        }
        emit({ name: this.name || "message", data });
      }
      this.name = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.name = value;
    else if (field === "data") this.data.push(value);
  }
}

export class LiveUpdates {
  private live = false;
  private stopped = false;

  constructor(
    private readonly onEvent: (e: LiveEvent) => void,
    private readonly onChange: (live: boolean) => void,
  ) {}

  get connected(): boolean {
    return this.live;
  }

  start(): void {
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  private set(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    this.onChange(live);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let wait = kRetryMs;
      try {
        const res = await fetch("/api/v1/stream", {
          headers: authHeaders("text/event-stream"),
          cache: "no-store",
        });
        const type = res.headers.get("content-type") ?? "";
        if (res.ok && res.body && type.startsWith("text/event-stream")) {
          await this.read(res.body);
        } else {
          // 503: as many live dashboards as the server keeps; 401: the page
          // asks for the token and starts again.
          wait = res.status === 401 ? kRetryMs : kRetryBusyMs;
          void res.body?.cancel();
        }
      } catch {
        // The server went away: poll until it is back.
      }
      this.set(false);
      await new Promise((ok) => setTimeout(ok, wait));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new EventParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.stopped) break;
      parser.push(decoder.decode(value, { stream: true }), (e) => {
        if (e.name === "hello") this.set(true);
        else this.onEvent(e);
      });
    }
    void reader.cancel().catch(() => undefined);
  }
}
