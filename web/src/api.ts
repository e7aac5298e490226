// Talks to printmeter's /api/v1. A configured read token is kept in
// localStorage and sent as "Authorization: Bearer"; a 401 answer throws
// Unauthorized so the page can ask for the token.

const kTokenKey = "printmeter.readToken";

export class Unauthorized extends Error {}

export function savedToken(): string | null {
  try {
    return localStorage.getItem(kTokenKey);
  } catch {
    return null;
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(kTokenKey, token);
    else localStorage.removeItem(kTokenKey);
  } catch {
    // Private mode without storage: the token lasts until the page closes.
  }
  memoryToken = token;
}

let memoryToken: string | null = savedToken();

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

function headers(accept: string): Headers {
  const h = new Headers({ Accept: accept });
  if (memoryToken) h.set("Authorization", `Bearer ${memoryToken}`);
  return h;
}

// The error message of a failed answer: the API's {"error": ...} when there
// is one.
async function failure(res: Response): Promise<Error> {
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === "string") message = body.error;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  return res.status === 401 ? new Unauthorized(message) : new Error(message);
}

async function fetchOk(url: string, accept: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers: headers(accept), cache: "no-store" });
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

export async function getBlob(url: string): Promise<Blob> {
  const res = await fetchOk(url, "text/csv");
  return res.blob();
}

export function hasToken(): boolean {
  return !!memoryToken;
}
