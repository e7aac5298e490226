// "Usage": over a window (this month by default, in the browser's time
// zone) — busy hours per day per printer as stacked bars, utilization and
// outcomes per printer, hours, filament and cost per person, and a custom
// grouping (week, month, origin, ...) as a table.

import { getJson } from "./api";
import { byId, h, replace, withWidth } from "./dom";
import { browserZone, hours, isoDate, localDateTime, metres, money, nextDay, percent } from "./format";
import { BusyChart } from "./chart";
import type { UsageFigures, UsageReport, UsageRow } from "./types";

const kKeyTitles: Record<string, string> = {
  device: "Printer", user: "User", day: "Day", week: "Week", month: "Month",
  origin: "Origin", status: "Status",
};

interface Column {
  title: string;
  cell: (f: UsageFigures, currency: string) => string | HTMLElement;
}

const count = (n: number | undefined) => String(n ?? 0);

function utilizationCell(f: UsageFigures): HTMLElement {
  const u = Math.max(0, f.utilization ?? 0);
  return h("span", { class: "util" },
    h("span", { class: "util-track", "aria-hidden": "true" }, withWidth(h("span", { class: "util-fill" }), u * 100)),
    h("span", null, percent(f.utilization)));
}

const kPrinterColumns: Column[] = [
  { title: "Utilization", cell: (f) => utilizationCell(f) },
  { title: "Busy h", cell: (f) => hours(f.busy_s) },
  { title: "Prints", cell: (f) => count(f.sessions) },
  { title: "Completed", cell: (f) => count(f.completed) },
  { title: "Cancelled", cell: (f) => count(f.cancelled) },
  { title: "Failed", cell: (f) => count(f.failed) },
  { title: "Interrupted", cell: (f) => count(f.interrupted) },
];

const kPeopleColumns: Column[] = [
  { title: "Prints", cell: (f) => count(f.sessions) },
  { title: "Print h", cell: (f) => hours(f.print_s) },
  { title: "Filament", cell: (f) => metres(f.filament_mm) },
  { title: "Cost", cell: (f, c) => money(f.cost, c) },
];

const kCustomColumns: Column[] = [
  { title: "Prints", cell: (f) => count(f.sessions) },
  { title: "Completed", cell: (f) => count(f.completed) },
  { title: "Failed / cancelled", cell: (f) => String((f.failed ?? 0) + (f.cancelled ?? 0)) },
  { title: "Busy h", cell: (f) => hours(f.busy_s) },
  { title: "Print h", cell: (f) => hours(f.print_s) },
  { title: "Utilization", cell: (f) => percent(f.utilization) },
  { title: "Filament", cell: (f) => metres(f.filament_mm) },
  { title: "Cost", cell: (f, c) => money(f.cost, c) },
];

function rowsOf(r: UsageReport | null): UsageRow[] {
  return r && Array.isArray(r.rows) ? r.rows : [];
}

export class UsageView {
  private readonly form = byId<HTMLFormElement>("usage-form");
  private readonly window = byId("usage-window");
  private readonly empty = byId("usage-empty");
  private readonly chart = new BusyChart(byId("usage-chart"));
  private names = new Map<string, string>();
  private reports: Record<string, UsageReport | null> = {};

  constructor(onError: (e: unknown) => void) {
    const now = new Date();
    this.input("from").value = isoDate(new Date(now.getFullYear(), now.getMonth(), 1));
    this.input("to").value = isoDate(now);
    this.form.addEventListener("change", () => this.refresh().catch(onError));
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

  // The window: `to` is inclusive on screen, so it ends at the next
  // midnight, or now when that is still ahead (utilization counts only time
  // that has passed).
  private window_(): Record<string, string> {
    const from = this.input("from").value;
    const to = this.input("to").value;
    const q: Record<string, string> = { tz: browserZone() };
    if (from) q.from = from;
    if (to && to < isoDate(new Date())) q.to = nextDay(to);
    return q;
  }

  private customGroups(): string {
    return [this.input("group1").value, this.input("group2").value]
      .filter((g, i, all) => g && all.indexOf(g) === i).join(",");
  }

  async refresh(): Promise<void> {
    const w = this.window_();
    const get = (group_by: string) => getJson<UsageReport>("/api/v1/usage", { ...w, group_by });
    const [daily, printers, people, custom] = await Promise.all([
      get("device,day"), get("device"), get("user"), get(this.customGroups())]);
    this.reports = { daily, printers, people, custom };
    this.render();
  }

  private keyText(name: string, value: string | null | undefined): string {
    if (value === null || value === undefined) return name === "user" ? "unattributed" : "—";
    if (name === "device") return this.names.get(value) ?? value;
    return value;
  }

  render(): void {
    const { daily, printers, people, custom } = this.reports;
    if (!printers) return;
    const currency = printers.currency ?? "";
    replace(this.window, `${localDateTime(printers.from)} to ${localDateTime(printers.to)}`,
      printers.tz ? ` (${printers.tz})` : "");
    const fleet = rowsOf(printers).length;
    this.chart.render(daily, (d) => this.keyText("device", d), this.input("from").value, this.input("to").value);
    this.table("usage-printers", ["device"], rowsOf(printers), kPrinterColumns, printers.totals, currency);
    byId("usage-fleet").textContent = fleet > 0
      ? `All printers: ${percent(printers.totals?.utilization)} busy — busy time over the window × the ` +
        "number of printers, idle ones included"
      : "";
    this.table("usage-people", ["user"], rowsOf(people), kPeopleColumns, people?.totals, currency);
    const groups = custom && Array.isArray(custom.group_by) ? custom.group_by : [];
    this.table("usage-table", groups, rowsOf(custom), kCustomColumns, custom?.totals, currency);
    this.empty.hidden = rowsOf(printers).length > 0;
  }

  private table(id: string, groups: string[], rows: UsageRow[], columns: Column[],
    totals: UsageFigures | undefined, currency: string): void {
    const table = byId<HTMLTableElement>(id);
    const keyHeads = groups.length > 0 ? groups.map((g) => h("th", { scope: "col" }, kKeyTitles[g] ?? g))
      : [h("th", { scope: "col" }, "")];
    const keyCells = (row: UsageRow) => groups.length > 0
      ? groups.map((g) => h("th", { scope: "row" }, this.keyText(g, row.key?.[g])))
      : [h("th", { scope: "row" }, "All prints")];
    replace(table.tHead!, h("tr", null,
      keyHeads,
      columns.map((c) => h("th", { scope: "col", class: "num" }, c.title))));
    replace(table.tBodies[0], rows.map((row) => h("tr", { "data-key": groups.map((g) => row.key?.[g] ?? "").join("|") },
      keyCells(row),
      columns.map((c) => h("td", { class: "num" }, c.cell(row, currency))))));
    const foot = totals && rows.length > 0
      ? h("tr", null,
          groups.length > 0 ? groups.map((_, i) => (i === 0 ? h("th", { scope: "row" }, "Total") : h("td", null)))
            : h("th", { scope: "row" }, "Total"),
          columns.map((c) => h("td", { class: "num" }, c.cell(totals, currency))))
      : null;
    replace(table.tFoot!, foot);
  }
}
