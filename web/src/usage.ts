// "Usage": figures over a window grouped by printer, user, day, ... as a
// table and a bar chart, in the browser's time zone.

import { getJson } from "./api";
import { byId, h, replace, withWidth } from "./dom";
import { browserZone, hours, isoDate, localDateTime, metres, money, nextDay, percent } from "./format";
import type { UsageFigures, UsageReport, UsageRow } from "./types";

const kKeyTitles: Record<string, string> = {
  device: "Printer", user: "User", day: "Day", week: "Week", month: "Month",
  origin: "Origin", status: "Status",
};

interface Column {
  title: string;
  cell: (f: UsageFigures) => string;
}

const kColumns: Column[] = [
  { title: "Prints", cell: (f) => String(f.sessions ?? 0) },
  { title: "Completed", cell: (f) => String(f.completed ?? 0) },
  { title: "Failed / cancelled", cell: (f) => String((f.failed ?? 0) + (f.cancelled ?? 0)) },
  { title: "Busy h", cell: (f) => hours(f.busy_s) },
  { title: "Print h", cell: (f) => hours(f.print_s) },
  { title: "Utilization", cell: (f) => percent(f.utilization) },
  { title: "Filament", cell: (f) => metres(f.filament_mm) },
  { title: "Cost", cell: (f) => money(f.cost) },
];

export class UsageView {
  private readonly form = byId<HTMLFormElement>("usage-form");
  private readonly table = byId<HTMLTableElement>("usage-table");
  private readonly chart = byId("usage-chart");
  private readonly window = byId("usage-window");
  private readonly empty = byId("usage-empty");
  private names = new Map<string, string>();
  private report: UsageReport | null = null;

  constructor(onError: (e: unknown) => void) {
    const now = new Date();
    this.input("from").value = isoDate(new Date(now.getFullYear(), now.getMonth(), 1));
    this.input("to").value = isoDate(now);
    this.form.addEventListener("change", (e) => {
      if ((e.target as HTMLElement).getAttribute("name") === "metric") this.render();
      else this.refresh().catch(onError);
    });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.refresh().catch(onError);
    });
  }

  setNames(names: Map<string, string>): void {
    this.names = names;
  }

  private input(name: string): HTMLInputElement | HTMLSelectElement {
    return this.form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  }

  // The query: `to` is inclusive on screen, so the window ends at the next
  // midnight, or now when that is still ahead (utilization counts only time
  // that has passed).
  private query(): Record<string, string> {
    const from = this.input("from").value;
    const to = this.input("to").value;
    const groups = [this.input("group1").value, this.input("group2").value].filter(
      (g, i, all) => g && all.indexOf(g) === i);
    const q: Record<string, string> = { group_by: groups.join(","), tz: browserZone() };
    if (from) q.from = from;
    if (to && to < isoDate(new Date())) q.to = nextDay(to);
    return q;
  }

  async refresh(): Promise<void> {
    this.report = await getJson<UsageReport>("/api/v1/usage", this.query());
    this.render();
  }

  private keyText(name: string, value: string | null | undefined): string {
    if (value === null || value === undefined) return name === "user" ? "unattributed" : "—";
    if (name === "device") return this.names.get(value) ?? value;
    return value;
  }

  private label(row: UsageRow, groups: string[]): string {
    return groups.map((g) => this.keyText(g, row.key?.[g])).join(" · ");
  }

  render(): void {
    const r = this.report;
    if (!r) return;
    const groups = Array.isArray(r.group_by) ? r.group_by : [];
    const rows = Array.isArray(r.rows) ? r.rows : [];
    replace(this.window, `${localDateTime(r.from)} to ${localDateTime(r.to)}`,
      r.tz ? ` (${r.tz})` : "");
    this.renderTable(groups, rows, r.totals);
    this.renderChart(groups, rows);
    this.empty.hidden = rows.length > 0;
  }

  private renderTable(groups: string[], rows: UsageRow[], totals: UsageFigures | undefined): void {
    const head = h("tr", null,
      groups.map((g) => h("th", { scope: "col" }, kKeyTitles[g] ?? g)),
      kColumns.map((c) => h("th", { scope: "col", class: "num" }, c.title)));
    replace(this.table.tHead!, head);
    replace(this.table.tBodies[0], rows.map((row) => h("tr", null,
      groups.map((g) => h("th", { scope: "row" }, this.keyText(g, row.key?.[g]))),
      kColumns.map((c) => h("td", { class: "num" }, c.cell(row))))));
    const foot = totals && rows.length > 0
      ? h("tr", null,
          groups.map((_, i) => (i === 0 ? h("th", { scope: "row" }, "Total") : h("td", null))),
          kColumns.map((c) => h("td", { class: "num" }, c.cell(totals))))
      : null;
    replace(this.table.tFoot!, foot);
  }

  private renderChart(groups: string[], rows: UsageRow[]): void {
    const metric = this.input("metric").value === "busy_s" ? "busy_s" : "utilization";
    const value = (r: UsageRow) => Math.max(0, Number(r[metric] ?? 0) || 0);
    const max = metric === "utilization" ? 1 : Math.max(1, ...rows.map(value));
    const text = (r: UsageRow) => (metric === "utilization" ? percent(r.utilization) : `${hours(r.busy_s)} h`);
    if (rows.length === 0) {
      replace(this.chart);
      return;
    }
    replace(this.chart, h("figure", null,
      h("figcaption", null, metric === "utilization" ? "Utilization" : "Busy hours"),
      h("ul", { class: "bars" }, rows.map((r) => h("li", null,
        h("span", { class: "bar-label" }, this.label(r, groups)),
        h("span", { class: "bar-track", "aria-hidden": "true" },
          withWidth(h("span", { class: "bar-fill" }), (value(r) / max) * 100)),
        h("span", { class: "bar-value" }, text(r)))))));
  }
}
