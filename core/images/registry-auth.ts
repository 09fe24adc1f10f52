// Registry authentication as Docker's client does it. A 401 names the
// scheme in WWW-Authenticate: Basic (the credentials go with every request
// from then on) or Bearer (a token from the realm for the scopes a request
// needs, cached until it expires and reused by every request it covers).
import { BerthError, invalidArgument, unavailable } from "../errors.ts";
import { errorBody, send, transientStatus, withRetries, type HttpRequest } from "./registry-http.ts";

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token, exchanged at the realm for access tokens. */
  identitytoken?: string;
  /** A bearer token sent as it is. */
  registrytoken?: string;
}

export interface Challenge {
  /** Lower-case: "basic", "bearer". */
  scheme: string;
  /** By lower-case name: realm, service, scope. */
  params: Record<string, string>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** RFC 7235's challenge list: `Bearer realm="https://auth.docker.io/token",service="registry.docker.io", Basic realm="x"`. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i]!)) i++;
  };
  const token = () => {
    const start = i;
    skip(TCHAR);
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const name = token();
    if (!name) {
      i++; // a stray character
      continue;
    }
    skip(/[ \t]/);
    if (header[i] !== "=") {
      out.push({ scheme: name.toLowerCase(), params: {} });
      continue;
    }
    // name=value: a parameter of the challenge before it (a token68 such as "abc==" ends up as an empty one).
    i++;
    skip(/[ \t]/);
    let value = "";
    if (header[i] === '"') {
      for (i++; i < header.length && header[i] !== '"'; i++) {
        if (header[i] === "\\") i++;
        value += header[i] ?? "";
      }
      i++;
    } else value = token();
    const last = out.at(-1);
    if (last) last.params[name.toLowerCase()] ??= value;
  }
  return out;
}

/** "repository:app:pull,push" as single actions: "repository:app:pull", "repository:app:push". */
function actions(scopes: string[]): string[] {
  return scopes.flatMap((s) => {
    const colon = s.lastIndexOf(":");
    return s
      .slice(colon + 1)
      .split(",")
      .map((a) => `${s.slice(0, colon)}:${a}`);
  });
}

/** Single actions back as scopes, one per resource: "repository:app:pull,push". */
function scopesOf(acts: string[]): string[] {
  const byResource = new Map<string, string[]>();
  for (const a of acts) {
    const colon = a.lastIndexOf(":");
    const list = byResource.get(a.slice(0, colon)) ?? byResource.set(a.slice(0, colon), []).get(a.slice(0, colon))!;
    if (!list.includes(a.slice(colon + 1))) list.push(a.slice(colon + 1));
  }
  return [...byResource].map(([resource, list]) => `${resource}:${list.join(",")}`);
}

/** Refused credentials, in Docker's words. */
export function unauthorized(domain: string, messages: string[], withCredentials: boolean): BerthError {
  return new BerthError(
    "PermissionDenied",
    `unauthorized: ${messages.join("; ") || "authentication required"} for ${domain}`,
    withCredentials ? `check the username and password for ${domain}` : `log in to ${domain} first`,
  );
}

type Scheme = { scheme: "basic" } | { scheme: "bearer"; realm: string; service?: string };

interface CachedToken {
  /** The single actions asked for: the token serves every request they cover. */
  actions: Set<string>;
  /** Infinity until the token server has answered. */
  expires: number;
  token: Promise<string>;
}

/** How one registry endpoint wants to be authenticated, and the tokens it gave. */
export class Auth {
  private scheme?: Scheme;
  private tokens: CachedToken[] = [];

  constructor(
    private readonly domain: string,
    private readonly creds: Credentials | undefined,
    private readonly retries: number,
    private readonly userAgent: string,
  ) {}

  get hasCredentials(): boolean {
    const c = this.creds;
    return Boolean(c?.username || c?.identitytoken || c?.registrytoken);
  }

  /** The Authorization header for a request that needs `scopes`; none before the registry has asked for one. */
  async header(scopes: string[]): Promise<string | undefined> {
    const s = this.scheme;
    if (s?.scheme === "basic") return this.basic();
    if (s?.scheme !== "bearer") return undefined;
    if (this.creds?.registrytoken) return `Bearer ${this.creds.registrytoken}`;
    return `Bearer ${await this.token(s, scopes)}`;
  }

  /**
   * Learn from a 401: its WWW-Authenticate says how to authenticate. True
   * if the request is worth sending again: its header (`sent`) is not what
   * would go now, or it carried a cached token (dropped: it may be revoked).
   */
  challenged(wwwAuthenticate: string | null, scopes: string[], sent: string | undefined): boolean {
    const c = parseChallenges(wwwAuthenticate ?? "").find((c) => c.scheme === "basic" || (c.scheme === "bearer" && c.params.realm));
    if (!c) return false;
    if (c.scheme === "basic") {
      this.scheme = { scheme: "basic" };
      return this.basic() !== undefined && this.basic() !== sent;
    }
    this.scheme = { scheme: "bearer", realm: c.params.realm!, service: c.params.service };
    if (this.creds?.registrytoken) return sent !== `Bearer ${this.creds.registrytoken}`;
    const acts = actions(scopes);
    this.tokens = this.tokens.filter((t) => !acts.every((a) => t.actions.has(a)));
    return true;
  }

  private basic(): string | undefined {
    const { username, password } = this.creds ?? {};
    return username ? `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}` : undefined;
  }

  /** A token for `scopes`: a cached one that covers them, else a new one (one request however many ask at once). */
  private token(s: Scheme & { scheme: "bearer" }, scopes: string[]): Promise<string> {
    const now = Date.now();
    this.tokens = this.tokens.filter((t) => t.expires > now);
    const acts = actions(scopes);
    const cached = this.tokens.find((t) => acts.every((a) => t.actions.has(a)));
    if (cached) return cached.token;
    const entry: CachedToken = { actions: new Set(acts), expires: Infinity, token: Promise.resolve("") };
    entry.token = this.fetchToken(s, scopesOf(acts)).then(
      ({ token, expires }) => ((entry.expires = expires), token),
      (err) => {
        this.tokens = this.tokens.filter((t) => t !== entry);
        throw err;
      },
    );
    this.tokens.push(entry);
    return entry.token;
  }

  private async fetchToken(s: Scheme & { scheme: "bearer" }, scopes: string[]): Promise<{ token: string; expires: number }> {
    const started = Date.now();
    let url: URL;
    try {
      url = new URL(s.realm);
    } catch {
      throw invalidArgument(`${this.domain} names an invalid token realm "${s.realm}"`);
    }
    const headers: Record<string, string> = { "user-agent": this.userAgent };
    const { username, password, identitytoken } = this.creds ?? {};
    let req: HttpRequest;
    if (identitytoken) {
      // OAuth2's refresh-token grant, as Docker exchanges the identity token `docker login` keeps.
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: identitytoken, client_id: "berth" });
      if (s.service) form.set("service", s.service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      req = { method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" }, body: form.toString() };
    } else {
      if (s.service) url.searchParams.set("service", s.service);
      for (const scope of scopes) url.searchParams.append("scope", scope);
      if (username) {
        url.searchParams.set("account", username);
        headers.authorization = this.basic()!;
      }
      req = { method: "GET", headers };
    }
    const subject = `token for ${this.domain} from ${url.origin}`;
    const res = await withRetries({ retries: this.retries, idempotent: true, subject, url: url.href }, () => send(url.href, req));
    if (!res.ok) {
      const body = await errorBody(res);
      if (res.status === 401 || res.status === 403) throw unauthorized(this.domain, body.messages, this.hasCredentials);
      throw new BerthError(transientStatus(res.status) ? "Unavailable" : "PermissionDenied", `${subject}: ${body.text}`);
    }
    const doc = (await res.json().catch(() => undefined)) as { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    const token = doc?.token || doc?.access_token;
    if (typeof token !== "string") throw unavailable(`${subject}: the answer holds no token`);
    // Counted from before the request: a token is never used past its time. 60 s when unsaid, as the spec has it.
    const ttl = Number(doc?.expires_in) > 0 ? Number(doc?.expires_in) : 60;
    return { token, expires: started + ttl * 1000 };
  }
}
