// The forwarding warning: a banner above the printers naming each
// [[forward]] target that is behind, for a page with admin rights (GET
// /api/v1/forwarding is an admin endpoint: a saved admin token, or a
// printmeter without one answering a browser on its own machine). A page
// without them asks once, is refused (401, 403) and shows nothing; it asks
// again once an admin token is saved (marking maintenance done asks for it).
//
// Behind: paused, retrying (the last attempt failed), or events waiting
// beyond kBacklogLimit, or waiting, without getting fewer, for longer than
// kStuckMs. Nothing is shown when every target is fine or there is none.

import { getAdminJson, hasAdminToken } from "./api";
import { h, replace } from "./dom";

const kBacklogLimit = 200;
const kStuckMs = 5 * 60_000;

export interface ForwardTarget {
  name: string;
  url: string;
  state: "idle" | "delivering" | "retrying" | "paused";
  backlog: number;
  delivered: number;
  failed: number;
  last_error: string | null;
  failing_since: string | null;
  next_attempt: string | null;
}

interface Waiting {
  since: number; // when this page first saw the backlog
  backlog: number;
}

function time(iso: string | number | null): string {
  if (iso === null) return "";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function events(n: number): string {
  return `${n} event${n === 1 ? "" : "s"}`;
}

export class ForwardingView {
  private readonly banner = document.getElementById("forwarding-alert") as HTMLElement;
  private denied = false;
  // Per target, the backlog this page saw first and since when it did not shrink.
  private readonly waiting = new Map<string, Waiting>();

  // Reads the targets and shows those behind. Resolves quietly without
  // admin rights; other failures reject (the page's status line says them).
  async refresh(): Promise<void> {
    if (this.denied && !hasAdminToken()) return this.done();
    const answer = await getAdminJson<{ targets: ForwardTarget[] }>("/api/v1/forwarding");
    this.denied = answer === null;
    this.render(answer?.targets ?? []);
    this.done();
  }

  private done(): void {
    document.body.dataset.forwarding = this.denied ? "denied" : "checked";
  }

  // Why `t` is behind, or "" when it is not.
  private behind(t: ForwardTarget, now: number): { why: string; since: number | string | null } {
    if (t.state === "paused") {
      return { why: "paused after failing for too long; tried every 5 min", since: t.failing_since };
    }
    if (t.state === "retrying") return { why: "failing, retrying", since: t.failing_since };
    const seen = this.waiting.get(t.name);
    if (t.backlog === 0) {
      this.waiting.delete(t.name);
      return { why: "", since: null };
    }
    if (!seen || t.backlog < seen.backlog) this.waiting.set(t.name, { since: now, backlog: t.backlog });
    const since = this.waiting.get(t.name)!.since;
    if (t.backlog > kBacklogLimit) return { why: "far behind", since };
    if (now - since > kStuckMs) return { why: "not catching up", since };
    return { why: "", since: null };
  }

  private render(targets: ForwardTarget[]): void {
    const now = Date.now();
    const rows = [];
    for (const t of targets) {
      const { why, since } = this.behind(t, now);
      if (!why) continue;
      rows.push(h("li", { "data-target": t.name, "data-state": t.state },
        h("strong", null, t.name), ` (${t.url}): ${why}`,
        since !== null ? `, since ${time(since)}` : "",
        `; ${events(t.backlog)} waiting.`,
        t.last_error ? h("span", { class: "last-error" }, ` Last error: ${t.last_error}.`) : "",
        t.next_attempt ? ` Next attempt ${time(t.next_attempt)}.` : ""));
    }
    this.banner.hidden = rows.length === 0;
    replace(this.banner.querySelector("ul")!, rows);
  }
}
