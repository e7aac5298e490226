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
  // Only on a printer's open session.
  remaining_s?: number | null;
  eta?: string | null;
}

export interface Printer {
  device: string;
  name?: string | null;
  state: string;
  session?: Session | null;
  last_event_at?: string | null;
  last_topic?: string | null;
  needs_attention?: boolean;
  remaining_s?: number | null;
  eta?: string | null;
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

export interface UsageReport {
  from: string;
  to: string;
  tz?: string;
  group_by: string[];
  rows: UsageRow[];
  totals: UsageFigures;
}
