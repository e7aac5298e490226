// The dashboard: printers now, recent prints and usage, kept up to date by
// the server's live stream (GET /api/v1/stream) and, while that is not to
// be had, by polling (printers every 5 s, lists every 30 s); the read-token
// form when the API answers 401.

import "./style.css";
import { hasToken, saveToken, Unauthorized } from "./api";
import { SessionDetailView } from "./detail";
import { ForwardingView } from "./forwarding";
import { byId } from "./dom";
import { LiveUpdates, type LiveEvent } from "./live";
import { PrintersView } from "./printers";
import { SessionsView } from "./sessions";
import { UsageView } from "./usage";

const kPrintersEveryMs = 5_000;
const kListsEveryMs = 30_000;
const kLiveCheckEveryMs = 5 * 60_000;
const kForwardingEveryMs = 30_000;
// While live, how long to gather events before re-reading (a burst of
// progress messages is one refresh).
const kPrintersSettleMs = 300;
const kListsSettleMs = 2_000;

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
printers.onError = (err) => onError(err);
const names = () => new Map(printers.list().map((p) => [p.device, p.name || p.device]));
const usage = new UsageView(onError);
const detail = new SessionDetailView(onError, names, () => sessions.currencyCode(), () => {
  sessions.refresh().then(() => usage.refresh()).then(updated, onError);
});
const sessions = new SessionsView(onError, (id) => detail.open(id).catch(onError));
const forwarding = new ForwardingView();

async function refreshPrinters(): Promise<void> {
  await printers.refresh();
  sessions.setPrinters(printers.list());
  usage.setNames(names());
}

async function refreshLists(): Promise<void> {
  await Promise.all([sessions.refresh(), usage.refresh(), detail.refresh()]);
}

const live = new LiveUpdates(onLive, () => updated());

function updated(): void {
  status.classList.remove("error");
  status.classList.toggle("live", live.connected);
  document.body.dataset.live = String(live.connected);
  const how = live.connected ? "Live" : "Refreshing every 5 s";
  status.textContent = `${how} · updated ${new Date().toLocaleTimeString()}`;
}

// Runs `work` once, `ms` after the first of a burst of calls.
function settle(ms: number, work: () => Promise<void>): () => void {
  let timer: number | undefined;
  return () => {
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      if (!locked) work().then(updated, onError);
    }, ms);
  };
}

const printersSoon = settle(kPrintersSettleMs, refreshPrinters);
const listsSoon = settle(kListsSettleMs, refreshLists);

function onLive(e: LiveEvent): void {
  if (e.name === "printer") {
    printersSoon();
    listsSoon();
  } else if (e.name === "session") {
    listsSoon();
  }
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
  forwarding.refresh().catch(onError);
}

function every(ms: number, work: () => Promise<void>): void {
  setInterval(() => {
    if (locked || document.hidden || live.connected) return;
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

// The cards' elapsed time and "last heard" move on between updates.
setInterval(() => {
  if (!locked && live.connected) printers.render();
}, kPrintersEveryMs);
// Even while live, re-read now and then: what the server decides on its own
// (a print nobody heard of for stale_after closed as interrupted) sends no
// event.
setInterval(() => {
  if (!locked && !document.hidden && live.connected) {
    refreshPrinters().then(refreshLists).then(updated, onError);
  }
}, kLiveCheckEveryMs);
// Forwarding has no live event: polled, live or not.
setInterval(() => {
  if (!locked && !document.hidden) forwarding.refresh().catch(onError);
}, kForwardingEveryMs);
every(kPrintersEveryMs, refreshPrinters);
every(kListsEveryMs, refreshLists);
loadAll()
  .then(() => live.start())
  .catch((e) => {
    onError(e);
    live.start();
  });
