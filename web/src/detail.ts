// One print in detail: its facts, the plugin's latest picture of it, the
// events it was made of, and (for an admin) who it belongs to.

import { getImage, getJson, NeedsAdmin, putJson, saveAdminToken } from "./api";
import { byId, h, replace, withWidth } from "./dom";
import { duration, localDateTime, metres, money } from "./format";
import { fileName } from "./printers";
import type { SessionDetail, SessionEvent } from "./types";

function fact(label: string, value: string | Node | null): HTMLElement | null {
  if (value === null || value === "") return null;
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value));
}

function timeline(events: SessionEvent[]): HTMLElement {
  if (events.length === 0) return h("p", { class: "muted" }, "No events.");
  return h("ol", { class: "timeline" }, events.map((e) => h(
    "li",
    { class: `event kind-${e.kind.replace(/[^a-z]/g, "")}`, "data-event": e.id },
    h("time", { datetime: e.time }, localDateTime(e.time)),
    " ",
    h("strong", null, e.topic || e.kind),
    e.duplicate ? h("span", { class: "badge" }, "resent") : null,
    e.test ? h("span", { class: "badge" }, "test") : null,
  )));
}

export class SessionDetailView {
  private readonly dialog = byId<HTMLDialogElement>("session-dialog");
  private readonly content = byId("session-detail");
  private id: string | null = null;
  private picture: string | null = null;

  constructor(
    private readonly onError: (e: unknown) => void,
    private readonly names: () => Map<string, string>,
    private readonly currency: () => string,
    private readonly onChanged: () => void,
  ) {
    byId("session-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      this.id = null;
      this.dropPicture();
    });
  }

  get openId(): string | null {
    return this.id;
  }

  async open(id: string): Promise<void> {
    this.id = id;
    await this.refresh();
    if (!this.dialog.open) this.dialog.showModal();
  }

  async refresh(): Promise<void> {
    if (!this.id) return;
    const id = this.id;
    const s = await getJson<SessionDetail>(`/api/v1/sessions/${encodeURIComponent(id)}`);
    const image = await getImage(`/api/v1/sessions/${encodeURIComponent(id)}/snapshot`);
    if (this.id !== id) return;
    this.dropPicture();
    if (image) this.picture = URL.createObjectURL(image);
    this.render(s);
  }

  private dropPicture(): void {
    if (this.picture) URL.revokeObjectURL(this.picture);
    this.picture = null;
  }

  private render(s: SessionDetail): void {
    const name = this.names().get(s.device) ?? s.device;
    const events = Array.isArray(s.events) ? s.events : [];
    const pct = s.progress_pct;
    replace(
      this.content,
      h("header", null,
        h("h2", { id: "session-title" }, fileName(s)),
        h("p", { class: "muted" }, name, " · ", h("span", { class: `badge status-${s.status}` }, s.status))),
      h("div", { class: "detail-grid" },
        h("dl", { class: "facts" },
          fact("Started", localDateTime(s.started_at) + (s.start_inferred ? " (inferred)" : "")),
          fact("Ended", s.ended_at ? localDateTime(s.ended_at) + (s.end_inferred ? " (inferred)" : "") : "still open"),
          fact("Duration", duration(s.duration_s)),
          fact("Printing", duration(s.print_s)),
          fact("Paused", duration(s.paused_s)),
          fact("Filament", metres(s.filament_mm)),
          s.cost === undefined || s.cost === null ? null : fact("Cost", money(s.cost, this.currency())),
          fact("User", s.user ?? "unattributed"),
          s.error ? fact("Error", h("span", { class: "error" }, s.error)) : null),
        this.picture
          ? h("figure", { class: "snapshot" },
              h("img", { src: this.picture, alt: `The printer's camera during ${fileName(s)}` }),
              h("figcaption", { class: "muted" }, "The latest picture the plugin sent"))
          : h("p", { class: "muted no-snapshot" }, "No picture came with this print.")),
      pct === null || pct === undefined ? null : h("div", { class: "progress" },
        h("div", { class: "progress-label" }, h("span", null, "Progress"), h("strong", null, `${Math.round(pct)} %`)),
        h("div", { class: "bar", role: "progressbar", "aria-label": "Progress", "aria-valuenow": Math.round(pct),
          "aria-valuemin": 0, "aria-valuemax": 100 }, withWidth(h("div", { class: "fill" }), pct))),
      this.attribution(s),
      h("h3", null, `Events (${events.length})`),
      timeline(events),
    );
  }

  // "Attribute to": PUT /api/v1/sessions/{id}/user with the admin token; the
  // token is asked for only when the server wants one.
  private attribution(s: SessionDetail): HTMLElement {
    const error = h("p", { class: "error", role: "alert" });
    const tokenLabel = h("label", { hidden: true }, "Admin token",
      h("input", { name: "admin", type: "password", autocomplete: "off" }));
    const form = h("form", { class: "filters attribute", id: "attribute-form" },
      h("label", null, "Attribute to",
        h("input", { name: "user", type: "text", value: s.user ?? "", placeholder: "a person's name", required: true })),
      tokenLabel,
      h("button", { type: "submit" }, "Save"),
      error);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const data = new FormData(form);
      const admin = String(data.get("admin") ?? "").trim();
      if (admin) saveAdminToken(admin);
      const user = String(data.get("user") ?? "").trim();
      putJson(`/api/v1/sessions/${encodeURIComponent(String(s.id))}/user`, { user })
        .then(() => {
          error.textContent = "";
          this.onChanged();
          return this.refresh();
        })
        .catch((err: unknown) => {
          if (err instanceof NeedsAdmin) {
            if (admin) saveAdminToken(null);
            tokenLabel.hidden = false;
            error.textContent = `${err.message}. Enter the admin token and save again.`;
            (tokenLabel.querySelector("input") as HTMLInputElement).focus();
            return;
          }
          this.onError(err);
        });
    });
    return form;
  }
}
