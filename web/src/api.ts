// Talks to printmeter's /api/v1. A configured read token is kept in
// localStorage and sent as "Authorization: Bearer"; a 401 answer throws
// Unauthorized so the page can ask for the token. Changes (attributing a
// print) send the admin token instead, asked for once when the server wants
// it and kept the same way.

const kTokenKey = "printmeter.readToken";
const kAdminKey = "printmeter.adminToken";

export class Unauthorized extends Error {}

// An admin endpoint refused: the admin token is missing or wrong (401), or
// the read token does not grant it (403).
export class NeedsAdmin extends Error {}

function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key: string, value: string | null): void {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Private mode without storage: the token lasts until the page closes.
  }
}

export function savedToken(): string | null {
  return load(kTokenKey);
}

export function saveToken(token: string | null): void {
  store(kTokenKey, token);
  memoryToken = token;
}

export function saveAdminToken(token: string | null): void {
  store(kAdminKey, token);
  adminToken = token;
}

let memoryToken: string | null = savedToken();
let adminToken: string | null = load(kAdminKey);

export type Params = Record<string, string | number | null | undefined>;

// "/api/v1/x?a=1" with the empty parameters left out.
export function apiUrl(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function authHeaders(accept: string, admin = false): Headers {
  const h = new Headers({ Accept: accept });
  const token = admin && adminToken ? adminToken : memoryToken;
  if (token) h.set("Authorization", `Bearer ${token}`);
  return h;
}

// The error message of a failed answer: the API's {"error": ...} when there
// is one.
async function failure(res: Response, admin = false): Promise<Error> {
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === "string") message = body.error;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  if (admin && (res.status === 401 || res.status === 403)) return new NeedsAdmin(message);
  return res.status === 401 ? new Unauthorized(message) : new Error(message);
}

async function fetchOk(url: string, accept: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(accept), cache: "no-store" });
  } catch {
    throw new Error("printmeter does not answer; is it running?");
  }
  if (!res.ok) throw await failure(res);
  return res;
}

export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  const res = await fetchOk(apiUrl(path, params), "application/json");
  return (await res.json()) as T;
}

// GET with the admin token (none saved: the read token, or nothing, which a
// printmeter without an admin token accepts from its own machine); null when
// the server refuses it (401, 403): the page has no admin rights.
export async function getAdminJson<T>(path: string): Promise<T | null> {
  let res: Response;
  try {
    res = await fetch(path, { headers: authHeaders("application/json", true), cache: "no-store" });
  } catch {
    throw new Error("printmeter does not answer; is it running?");
  }
  if (res.status === 401 || res.status === 403) return null;
  if (!res.ok) throw await failure(res, true);
  return (await res.json()) as T;
}

export async function getBlob(url: string): Promise<Blob> {
  const res = await fetchOk(url, "text/csv");
  return res.blob();
}

// A picture from the API (which an <img> could not fetch with the token), or
// null when there is none (404).
export async function getImage(url: string): Promise<Blob | null> {
  const res = await fetch(url, { headers: authHeaders("image/*"), cache: "no-store" });
  if (res.status === 404) return null;
  if (!res.ok) throw await failure(res);
  return res.blob();
}

// PUT with the admin token; NeedsAdmin when the server wants (another) one.
export async function putJson<T>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    const headers = authHeaders("application/json", true);
    headers.set("Content-Type", "application/json");
    res = await fetch(path, { method: "PUT", headers, body: JSON.stringify(body) });
  } catch {
    throw new Error("printmeter does not answer; is it running?");
  }
  if (!res.ok) throw await failure(res, true);
  return (await res.json()) as T;
}

// POST with the admin token; NeedsAdmin when the server wants (another) one.
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    const headers = authHeaders("application/json", true);
    headers.set("Content-Type", "application/json");
    res = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  } catch {
    throw new Error("printmeter does not answer; is it running?");
  }
  if (!res.ok) throw await failure(res, true);
  return (await res.json()) as T;
}

export function hasToken(): boolean {
  return !!memoryToken;
}

export function hasAdminToken(): boolean {
  return !!adminToken;
}
