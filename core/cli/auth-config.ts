// Registry credentials on the client, as the docker CLI keeps them:
// $DOCKER_CONFIG/config.json (default ~/.docker/config.json), "auths" by
// server, "auth" the base64 of "user:password". They travel to the daemon
// per request in the X-Registry-Auth header, as with Docker.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { invalidArgument } from "../errors.ts";

/** Docker Hub's key in config.json. */
export const DOCKER_HUB = "https://index.docker.io/v1/";

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  [key: string]: unknown;
}

export function configPath(): string {
  return `${process.env.DOCKER_CONFIG ?? `${homedir()}/.docker`}/config.json`;
}

function readConfig(): ConfigFile {
  const path = configPath();
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ConfigFile;
  } catch (err) {
    throw invalidArgument(`${path} is not valid JSON: ${(err as Error).message}`, "fix or remove the file");
  }
}

/** Write atomically, readable by the owner only (it holds passwords). */
function writeConfig(cfg: ConfigFile) {
  const path = configPath();
  mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(cfg, null, "\t")}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The config.json key of a registry domain ("docker.io" is Docker Hub's URL). */
export const serverKey = (domain: string) => (domain === "docker.io" || domain === "index.docker.io" ? DOCKER_HUB : domain);

export function storeAuth(domain: string, username: string, password: string) {
  const cfg = readConfig();
  cfg.auths = { ...cfg.auths, [serverKey(domain)]: { auth: Buffer.from(`${username}:${password}`).toString("base64") } };
  writeConfig(cfg);
}

/** Forget a registry's credentials; false if there were none. */
export function removeAuth(domain: string): boolean {
  const cfg = readConfig();
  const key = serverKey(domain);
  if (!cfg.auths?.[key]) return false;
  delete cfg.auths[key];
  writeConfig(cfg);
  return true;
}

export function credentialsFor(domain: string): { username: string; password: string; identitytoken?: string } | undefined {
  const entry = readConfig().auths?.[serverKey(domain)];
  if (!entry?.auth && !entry?.identitytoken) return undefined;
  const [username = "", ...rest] = Buffer.from(entry.auth ?? "", "base64").toString().split(":");
  return { username, password: rest.join(":"), identitytoken: entry.identitytoken };
}

/** Every registry's credentials, by config.json key: the X-Registry-Config of a build (its base images' pulls). */
export function allCredentials(): Record<string, { username: string; password: string; identitytoken?: string }> {
  const out: Record<string, { username: string; password: string; identitytoken?: string }> = {};
  for (const key of Object.keys(readConfig().auths ?? {})) {
    const domain = key === DOCKER_HUB ? "docker.io" : key;
    const c = credentialsFor(domain);
    if (c) out[key] = c;
  }
  return out;
}

/** The X-Registry-Auth header for a registry: base64url of {username, password, serveraddress}; undefined without credentials. */
export function registryAuthHeader(domain: string): string | undefined {
  const c = credentialsFor(domain);
  if (!c) return undefined;
  return Buffer.from(JSON.stringify({ username: c.username, password: c.password, identitytoken: c.identitytoken, serveraddress: serverKey(domain) })).toString("base64url");
}
