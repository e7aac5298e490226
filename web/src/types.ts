// The shapes printmeter's /api/v1 answers with (docs/api.md, ledger.md
// sections 6-7). Everything the server may leave out or null is optional, so
// the views cope with an older or newer server.

export interface FileInfo {
  name?: string | null;
  path?: string | null;
  display?: string | null;
  origin?: string | null;
  size?: number | null;
}

export interface Session {
  id: number | string;
  device: string;
  status: string;
  started_at: string;
  ended_at?: string | null;
  duration_s?: number | null;
  paused_s?: number | null;
  print_s?: number | null;
  file?: FileInfo | null;
  user?: string | null;
  progress_pct?: number | null;
  estimated_s?: number | null;
  filament_mm?: number | null;
  error?: string | null;
  start_inferred?: boolean;
  end_inferred?: boolean;
  snapshot?: boolean;
  event_count?: number;
  // The print's own cost at the rates in force when it started.
  cost?: number | null;
  // Only on a printer's open session.
  remaining_s?: number | null;
  eta?: string | null;
}

// One maintenance item of a printer (README "Maintenance").
export interface MaintenanceItem {
  item: string;
  kind: "hours" | "filament_m" | "days" | string;
  every: number;
  every_text: string;
  used: number;
  remaining: number;
  fraction: number;
  state: "ok" | "due_soon" | "due" | "overdue" | string;
  since: string;
  last_done: string | null;
  done_by: string | null;
  note: string | null;
}

export interface Printer {
  device: string;
  name?: string | null;
  state: string;
  session?: Session | null;
  last_event_at?: string | null;
  last_topic?: string | null;
  needs_attention?: boolean;
  // The printer's own words while it needs attention.
  attention_message?: string | null;
  remaining_s?: number | null;
  eta?: string | null;
  maintenance?: MaintenanceItem[];
}

export interface UsageFigures {
  sessions?: number;
  completed?: number;
  cancelled?: number;
  failed?: number;
  interrupted?: number;
  restarted?: number;
  busy_s?: number | null;
  paused_s?: number | null;
  print_s?: number | null;
  utilization?: number | null;
  filament_mm?: number | null;
  cost?: number | null;
}

export interface UsageRow extends UsageFigures {
  key: Record<string, string | null>;
}

export interface SessionEvent {
  id: number;
  device: string;
  topic: string;
  kind: string;
  time: string;
  received_at?: string;
  duplicate?: boolean;
  test?: boolean;
  session?: number | null;
  content_type?: string;
}

export interface SessionDetail extends Session {
  events?: SessionEvent[];
}

export interface UsageReport {
  currency?: string;
  from: string;
  to: string;
  tz?: string;
  group_by: string[];
  rows: UsageRow[];
  totals: UsageFigures;
}
