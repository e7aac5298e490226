// "Printers now": one card per printer with its state, the open print and
// how recently it was heard from.

import { getJson, NeedsAdmin, postJson, saveAdminToken } from "./api";
import { byId, h, replace, withWidth } from "./dom";
import { ago, duration, localClock, localDateTime, parseTime } from "./format";
import type { MaintenanceItem, Printer, Session } from "./types";

const kStateLabels: Record<string, string> = {
  idle: "Idle",
  printing: "Printing",
  paused: "Paused",
};

export function fileName(s: Session | null | undefined): string {
  const f = s?.file;
  return f?.display || f?.name || f?.path || "unnamed file";
}

// Elapsed seconds of an open print, counted on from the moment of the answer
// while it is printing.
function elapsed(s: Session, fetched_at: number): number | null {
  if (s.duration_s === null || s.duration_s === undefined) return null;
  const since = s.status === "printing" ? (Date.now() - fetched_at) / 1000 : 0;
  return s.duration_s + since;
}

function progressBar(pct: number | null | undefined): HTMLElement | null {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return null;
  const value = Math.min(100, Math.max(0, pct));
  const shown = `${Math.round(value)} %`;
  return h(
    "div",
    { class: "progress" },
    h("div", { class: "progress-label" }, h("span", null, "Progress"), h("strong", null, shown)),
    h(
      "div",
      { class: "bar", role: "progressbar", "aria-label": "Progress", "aria-valuemin": 0,
        "aria-valuemax": 100, "aria-valuenow": Math.round(value) },
      withWidth(h("div", { class: "fill" }), value),
    ),
  );
}

function etaText(p: Printer, s: Session): string | null {
  const remaining = s.remaining_s ?? p.remaining_s;
  const eta = parseTime(s.eta ?? p.eta);
  if (remaining === null || remaining === undefined) return null;
  const left = `${duration(remaining)} left`;
  return eta ? `${localClock(eta)} (${left})` : left;
}

function fact(label: string, value: string | HTMLElement, cls = ""): HTMLElement {
  return h("div", { class: `fact ${cls}` }, h("dt", null, label), h("dd", null, value));
}

function sessionFacts(p: Printer, s: Session, fetched_at: number): HTMLElement {
  const eta = etaText(p, s);
  return h(
    "dl",
    { class: "facts" },
    fact("File", h("span", { class: "file", title: s.file?.path ?? "" }, fileName(s)), "wide"),
    fact("User", s.user ?? "unattributed"),
    fact("Elapsed", duration(elapsed(s, fetched_at))),
    eta ? fact("ETA", eta, "wide") : null,
  );
}

const kMaintenanceLabels: Record<string, string> = {
  due_soon: "Due soon",
  due: "Due",
  overdue: "Overdue",
};

// "212 h of 200h", "480 m of 500m", "95 d of 90d".
function usedText(m: MaintenanceItem): string {
  const unit = m.kind === "hours" ? "h" : m.kind === "days" ? "d" : "m";
  const used = m.used >= 100 ? Math.round(m.used).toString() : m.used.toFixed(1);
  return `${used} ${unit} of ${m.every_text}`;
}

// The items due soon, due or overdue, each with a button to mark it done.
function maintenanceList(p: Printer, markDone: MarkDone): HTMLElement | null {
  const items = (p.maintenance ?? []).filter((m) => kMaintenanceLabels[m.state]);
  if (items.length === 0) return null;
  return h(
    "ul",
    { class: "maintenance", "aria-label": "Maintenance" },
    items.map((m) =>
      h(
        "li",
        { class: `maintenance-${m.state}`, "data-item": m.item },
        h("span", { class: `badge maintenance-${m.state}` }, kMaintenanceLabels[m.state]),
        h("span", { class: "maintenance-item", title: m.note ?? "" }, m.item),
        h("span", { class: "muted" }, usedText(m)),
        h("button", {
          type: "button", class: "secondary",
          "aria-label": `Mark ${m.item} done`,
          onclick: () => markDone(p.device, m.item),
        }, "Mark done"),
      )),
  );
}

type MarkDone = (device: string, item: string) => void;

function card(p: Printer, fetched_at: number, markDone: MarkDone): HTMLElement {
  const state = kStateLabels[p.state] ? p.state : "unknown";
  const s = p.session ?? null;
  const title = p.name || p.device;
  return h(
    "article",
    { class: `card state-${state}${p.needs_attention ? " attention" : ""}`, "data-device": p.device },
    h(
      "header",
      null,
      h("h3", null, title, title !== p.device ? h("small", null, p.device) : null),
      h("span", { class: `badge state-${state}` }, kStateLabels[p.state] ?? p.state),
    ),
    p.needs_attention
      ? h("div", { class: "attention-note", role: "alert" },
          h("strong", null, "⚠ Needs attention", p.last_topic ? ` — ${p.last_topic}` : ""),
          p.attention_message ? h("p", { class: "attention-message" }, p.attention_message) : null)
      : null,
    s ? sessionFacts(p, s, fetched_at) : h("p", { class: "muted" }, "No print running."),
    s ? progressBar(s.progress_pct) : null,
    maintenanceList(p, markDone),
    h(
      "footer",
      { class: "muted" },
      "Last heard ",
      h("time", { datetime: p.last_event_at ?? "", title: localDateTime(p.last_event_at) }, ago(p.last_event_at)),
      p.last_topic ? ` · ${p.last_topic}` : "",
    ),
  );
}

export class PrintersView {
  private printers: Printer[] = [];
  private fetched_at = 0;
  private readonly cards = byId("printer-cards");

  list(): Printer[] {
    return this.printers;
  }

  async refresh(): Promise<void> {
    const body = await getJson<{ printers?: Printer[] }>("/api/v1/printers");
    this.printers = Array.isArray(body.printers) ? body.printers : [];
    this.fetched_at = Date.now();
    this.render();
  }

  render(): void {
    if (this.printers.length === 0) {
      replace(this.cards, h("p", { class: "muted" },
        "No printers yet. Point OctoPrint's Webhooks plugin at this server's /webhook and start a print."));
      return;
    }
    const markDone = (device: string, item: string) => void this.markDone(device, item);
    replace(this.cards, this.printers.map((p) => card(p, this.fetched_at, markDone)));
  }

  // POST .../maintenance/{item}/done with the admin token, asked for when the
  // server wants one; the cards are fetched again after.
  onError: (err: unknown) => void = (err) => console.error(err);

  private async markDone(device: string, item: string): Promise<void> {
    const path = `/api/v1/printers/${encodeURIComponent(device)}/maintenance/` +
      `${encodeURIComponent(item)}/done`;
    for (let attempt = 0; attempt < 2; ++attempt) {
      try {
        await postJson(path, {});
        await this.refresh();
        return;
      } catch (err) {
        if (!(err instanceof NeedsAdmin) || attempt > 0) {
          if (err instanceof NeedsAdmin) saveAdminToken(null);
          this.onError(err);
          return;
        }
        const token = window.prompt(`${err.message}. Admin token to mark ${item} done:`);
        if (!token) return;
        saveAdminToken(token.trim());
      }
    }
  }
}
