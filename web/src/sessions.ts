// "Recent prints": the session list, newest first, with filters, "load
// more" through next_cursor and the same rows as CSV.

import { apiUrl, getBlob, getJson, hasToken, type Params } from "./api";
import { byId, h, replace } from "./dom";
import { duration, localDateTime, metres, money } from "./format";
import { fileName } from "./printers";
import type { Printer, Session } from "./types";

const kPageSize = 50;

function statusBadge(status: string): HTMLElement {
  return h("span", { class: `badge status-${status.replace(/[^a-z]/g, "")}` }, status);
}

// A time, marked when printmeter inferred it rather than heard it.
function timeCell(iso: string | null | undefined, inferred: boolean | undefined, what: string): HTMLElement {
  if (!iso) return h("td", { class: "muted" }, "—");
  return h("td", inferred ? { class: "inferred", title: `${what} inferred: no message said it` } : null,
    h("time", { datetime: iso }, localDateTime(iso)), inferred ? h("span", { class: "mark" }, " (inferred)") : null);
}

export class SessionsView {
  private readonly form = byId<HTMLFormElement>("session-filters");
  private readonly body = byId("session-table").querySelector("tbody")!;
  private readonly more = byId<HTMLButtonElement>("load-more");
  private readonly empty = byId("sessions-empty");
  private readonly csv = byId<HTMLAnchorElement>("csv-link");
  private next_cursor: string | null = null;
  private pages = 0;
  private names = new Map<string, string>();
  private currency = "";

  constructor(
    private readonly onError: (e: unknown) => void,
    private readonly onOpen: (id: string) => void = () => undefined,
  ) {
    this.body.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest("tr[data-session]");
      if (row && !(e.target as HTMLElement).closest("a")) this.onOpen(row.getAttribute("data-session")!);
    });
    this.body.addEventListener("keydown", (e) => {
      const row = (e.target as HTMLElement).closest("tr[data-session]");
      if (row && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        this.onOpen(row.getAttribute("data-session")!);
      }
    });
    this.form.addEventListener("change", () => this.reload().catch(onError));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.reload().catch(onError);
    });
    this.more.addEventListener("click", () => this.loadMore().catch(onError));
    this.csv.addEventListener("click", (e) => this.downloadCsv(e));
  }

  // The currency the server's costs are in ("" when not configured).
  currencyCode(): string {
    return this.currency;
  }

  // Printer names for the device column and the printer filter.
  setPrinters(printers: Printer[]): void {
    this.names = new Map(printers.map((p) => [p.device, p.name || p.device]));
    const select = this.form.elements.namedItem("device") as HTMLSelectElement;
    const chosen = select.value;
    const options = printers.map((p) => h("option", { value: p.device }, p.name || p.device));
    if (chosen && !this.names.has(chosen)) options.push(h("option", { value: chosen }, chosen));
    replace(select, h("option", { value: "" }, "All printers"), options);
    select.value = chosen;
  }

  private filters(): Params {
    const data = new FormData(this.form);
    return {
      device: String(data.get("device") ?? ""),
      user: String(data.get("user") ?? "").trim(),
      status: String(data.get("status") ?? ""),
    };
  }

  // Re-reads the first page; skipped while more pages are shown, so an
  // automatic refresh does not take away what the reader loaded.
  async refresh(): Promise<void> {
    if (this.pages <= 1) await this.reload();
  }

  async reload(): Promise<void> {
    const filters = this.filters();
    this.csv.href = apiUrl("/api/v1/sessions.csv", filters);
    const page = await this.fetchPage({ ...filters, limit: kPageSize });
    this.pages = 1;
    replace(this.body, page.map((s) => this.row(s)));
    this.update();
  }

  private async loadMore(): Promise<void> {
    if (!this.next_cursor) return;
    const page = await this.fetchPage({ ...this.filters(), limit: kPageSize, cursor: this.next_cursor });
    this.pages += 1;
    for (const s of page) this.body.appendChild(this.row(s));
    this.update();
  }

  private async fetchPage(params: Params): Promise<Session[]> {
    const answer = await getJson<{ sessions?: Session[]; next_cursor?: string | null; currency?: string }>(
      "/api/v1/sessions", params);
    this.next_cursor = answer.next_cursor ?? null;
    this.currency = typeof answer.currency === "string" ? answer.currency : "";
    return Array.isArray(answer.sessions) ? answer.sessions : [];
  }

  private update(): void {
    this.more.hidden = !this.next_cursor;
    this.empty.hidden = this.body.children.length > 0;
  }

  private row(s: Session): HTMLTableRowElement {
    const name = this.names.get(s.device) ?? s.device;
    return h(
      "tr",
      { "data-session": s.id, tabindex: 0, class: "clickable", title: "Show this print's events and picture" },
      h("td", { title: s.device }, name),
      h("td", { class: "file", title: s.file?.path ?? "" }, fileName(s),
        s.error ? h("div", { class: "error small" }, s.error) : null),
      h("td", null, s.user ?? h("span", { class: "muted" }, "unattributed")),
      h("td", null, statusBadge(s.status)),
      timeCell(s.started_at, s.start_inferred, "start"),
      timeCell(s.ended_at, s.end_inferred, "end"),
      h("td", { class: "num" }, duration(s.duration_s)),
      h("td", { class: "num" }, metres(s.filament_mm)),
      h("td", { class: "num" }, s.cost === undefined || s.cost === null ? "—" : money(s.cost, this.currency)),
    );
  }

  // A plain link cannot carry the read token; fetch the CSV with it instead.
  private downloadCsv(e: MouseEvent): void {
    if (!hasToken()) return;
    e.preventDefault();
    getBlob(this.csv.href)
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const a = h("a", { href: url, download: this.csv.download || "sessions.csv" });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      })
      .catch(this.onError);
  }
}
