// Busy hours per day, stacked by printer (uPlot on a canvas; no network, no
// inline styles beyond the CSSOM, which the page's CSP allows).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h, replace } from "./dom";
import { hours } from "./format";
import type { UsageReport } from "./types";

const kColors = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d"];

// Every day of [from, to], "YYYY-MM-DD", as the report's day keys are.
function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  const [y, m, d] = from.split("-").map(Number);
  for (let day = new Date(y, m - 1, d); out.length < 400; day.setDate(day.getDate() + 1)) {
    const key = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
    if (key > to) break;
    out.push(key);
  }
  return out;
}

const kDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const dayLabel = (x: number) => kDay.format(new Date(x * 1000));

export class BusyChart {
  private plot: uPlot | null = null;
  private observer: ResizeObserver | null = null;

  constructor(private readonly box: HTMLElement) {}

  // `daily` is usage grouped by device,day; `from`/`to` the window's first
  // and last day.
  render(daily: UsageReport | null | undefined, name: (device: string) => string, from: string, to: string): void {
    this.plot?.destroy();
    this.plot = null;
    const rows = daily && Array.isArray(daily.rows) ? daily.rows : [];
    if (rows.length === 0 || !from || !to) {
      replace(this.box);
      return;
    }
    const days = daysOf(from, to);
    const devices = [...new Set(rows.map((r) => String(r.key?.device ?? "")))].sort();
    // hours[device][day]
    const busy = devices.map(() => days.map(() => 0));
    for (const r of rows) {
      const i = devices.indexOf(String(r.key?.device ?? ""));
      const j = days.indexOf(String(r.key?.day ?? ""));
      if (i >= 0 && j >= 0) busy[i][j] += (r.busy_s ?? 0) / 3600;
    }
    // Stacked: series k is the sum of printers 0..k; the tallest is drawn
    // first so the shorter ones paint over its lower part.
    const stacked = busy.map((_, k) => days.map((__, j) => busy.slice(0, k + 1).reduce((a, b) => a + b[j], 0)));
    const order = devices.map((_, k) => devices.length - 1 - k);
    const xs = days.map((d) => {
      const [y, m, dd] = d.split("-").map(Number);
      return new Date(y, m - 1, dd, 12).getTime() / 1000;
    });
    const step = Math.max(1, Math.ceil(xs.length / 12));
    const styles = getComputedStyle(document.documentElement);
    const text = styles.getPropertyValue("--muted").trim() || "#57606a";
    const grid = styles.getPropertyValue("--line").trim() || "#d8dee4";
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const figure = h("figure", { class: "busy-chart", "data-printers": devices.join(","),
      "data-busy-hours": hours(busy.flat().reduce((a, b) => a + b, 0) * 3600) },
      h("figcaption", null, "Busy hours per day, by printer"));
    replace(this.box, figure);
    const width = Math.max(280, this.box.clientWidth - 32);
    this.plot = new uPlot({
      width,
      height: 260,
      scales: {
        x: { time: true, range: () => [xs[0] - 43_200, xs[xs.length - 1] + 43_200] },
        y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max))] },
      },
      axes: [
        { ...axis, splits: () => xs, values: (_u, splits) => splits.map((x, i) => (i % step === 0 ? dayLabel(x) : "")) },
        { ...axis, label: "hours", size: 50 },
      ],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        { value: (_u, v) => (v ? new Date(v * 1000).toLocaleDateString() : "—") },
        ...order.map((k) => ({
          label: name(devices[k]),
          fill: kColors[k % kColors.length],
          stroke: kColors[k % kColors.length],
          width: 0,
          paths: uPlot.paths.bars!({ size: [0.7, 48] }),
          points: { show: false },
          value: (_u: uPlot, _v: number | null, _s: number, i: number | null) =>
            i === null ? `${hours(busy[k].reduce((a, b) => a + b, 0) * 3600)} h` : `${busy[k][i].toFixed(1)} h`,
        })),
      ],
    }, [xs, ...order.map((k) => stacked[k])], figure);
    if (!this.observer && "ResizeObserver" in window) {
      this.observer = new ResizeObserver(() => {
        if (this.plot) this.plot.setSize({ width: Math.max(280, this.box.clientWidth - 32), height: 260 });
      });
      this.observer.observe(this.box);
    }
  }
}
