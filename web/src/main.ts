// The dashboard: printers now (every 5 s), recent prints and usage (every
// 30 s), and the read-token form when the API answers 401.

import "./style.css";
import { hasToken, saveToken, Unauthorized } from "./api";
import { byId } from "./dom";
import { PrintersView } from "./printers";
import { SessionsView } from "./sessions";
import { UsageView } from "./usage";

const kPrintersEveryMs = 5_000;
const kListsEveryMs = 30_000;

const status = byId("status");
const auth = byId("auth");
const authError = byId("auth-error");
const signout = byId<HTMLButtonElement>("signout");
const sections = ["printers", "sessions", "usage"].map((id) => byId(id));

let locked = false;

function showAuth(message: string): void {
  locked = true;
  auth.hidden = false;
  for (const s of sections) s.hidden = true;
  authError.textContent = hasToken() ? `The token was not accepted: ${message}` : "";
  status.textContent = "";
  byId<HTMLInputElement>("token").focus();
}

function onError(e: unknown): void {
  if (e instanceof Unauthorized) {
    showAuth(e.message);
    return;
  }
  status.textContent = e instanceof Error ? e.message : String(e);
  status.classList.add("error");
}

const printers = new PrintersView();
const sessions = new SessionsView(onError);
const usage = new UsageView(onError);

async function refreshPrinters(): Promise<void> {
  await printers.refresh();
  sessions.setPrinters(printers.list());
  usage.setNames(new Map(printers.list().map((p) => [p.device, p.name || p.device])));
}

function updated(): void {
  status.classList.remove("error");
  status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

async function loadAll(): Promise<void> {
  await refreshPrinters();
  await Promise.all([sessions.reload(), usage.refresh()]);
  locked = false;
  auth.hidden = true;
  for (const s of sections) s.hidden = false;
  signout.hidden = !hasToken();
  document.body.dataset.loaded = "true";
  updated();
}

function every(ms: number, work: () => Promise<void>): void {
  setInterval(() => {
    if (locked || document.hidden) return;
    work().then(updated, onError);
  }, ms);
}

byId<HTMLFormElement>("auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = byId<HTMLInputElement>("token");
  saveToken(input.value.trim());
  input.value = "";
  loadAll().catch(onError);
});

signout.addEventListener("click", () => {
  saveToken(null);
  window.location.reload();
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && !locked) refreshPrinters().then(updated, onError);
});

every(kPrintersEveryMs, refreshPrinters);
every(kListsEveryMs, async () => {
  await Promise.all([sessions.refresh(), usage.refresh()]);
});
loadAll().catch(onError);
