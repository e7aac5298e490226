// How figures read on screen: local times, durations, metres, relative ages.

const kDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const kTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const kNumber1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const kNumber2 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function parseTime(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function localDateTime(iso: string | null | undefined): string {
  const d = parseTime(iso);
  return d ? kDateTime.format(d) : "—";
}

// The time of day when it is today, else date and time.
export function localClock(d: Date, now = new Date()): string {
  return d.toDateString() === now.toDateString() ? kTime.format(d) : kDateTime.format(d);
}

// "45 s", "12 min", "3 h 05 min", "2 d 4 h".
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return `${hours} h ${String(min % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

// "just now", "40 s ago", "3 min ago", "2 h ago", "5 d ago".
export function ago(iso: string | null | undefined, now = Date.now()): string {
  const d = parseTime(iso);
  if (!d) return "never";
  const s = Math.floor((now - d.getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function metres(mm: number | null | undefined): string {
  if (mm === null || mm === undefined || !Number.isFinite(mm)) return "—";
  return `${kNumber2.format(mm / 1000)} m`;
}

export function hours(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  return kNumber1.format(seconds / 3600);
}

export function percent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return "—";
  return `${kNumber1.format(fraction * 100)} %`;
}

// "12.50", or "€12.50" with the server's currency ("EUR"); a currency that
// is no ISO code is written after the figure.
export function money(value: number | null | undefined, currency?: string | null): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (!currency) return kNumber2.format(value);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
  } catch {
    return `${kNumber2.format(value)} ${currency}`;
  }
}

// "YYYY-MM-DD" of a local date, as <input type="date"> wants it.
export function isoDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// The day after an "YYYY-MM-DD" date.
export function nextDay(date: string): string {
  const [y, m, d] = date.split("-").map(Number);
  return isoDate(new Date(y, m - 1, d + 1));
}
