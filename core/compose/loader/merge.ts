// Several -f files -> one document, by the compose-spec merge rules
// (13-merge.md, and Docker Compose's override.go for what the spec leaves
// open): mappings merge key by key, sequences append, and these exceptions:
// - command, entrypoint and healthcheck.test are replaced;
// - ports, volumes, secrets and configs are unique by their target (ports by
//   ip/target/published/protocol): a later entry replaces an earlier one;
// - environment, labels, extra_hosts, build.args, ... merge as mappings
//   (their list forms converted first), depends_on and networks likewise;
// - dns, dns_search, dns_opt, tmpfs, env_file, profiles, cap_add, cap_drop
//   append without duplicates;
// - logging with another driver is replaced whole;
// - a value tagged !reset removes the key, one tagged !override replaces it.
// Positions (positions.ts) are carried over from whichever file gave a value.
import { copyEntry, entryOf, isMapping } from "./positions.ts";
import { fileTarget, parsePorts, splitVolume } from "./normalize.ts";

type Raw = Record<string, unknown>;

/** `over` merged onto `base`; neither is modified. */
export function mergeDocuments(base: Raw, over: Raw): Raw {
  return mergeMaps(base, over, []);
}

const REPLACE = new Set(["services.*.command", "services.*.entrypoint", "services.*.healthcheck.test"]);
const AS_MAP = new Set([
  "services.*.environment", "services.*.labels", "services.*.annotations", "services.*.sysctls", "services.*.extra_hosts",
  "services.*.build.args", "services.*.build.labels", "services.*.build.extra_hosts", "services.*.deploy.labels",
  "services.*.depends_on", "services.*.networks", "networks.*.labels", "volumes.*.labels",
]);
const UNIQUE_LIST = new Set([
  "services.*.dns", "services.*.dns_search", "services.*.dns_opt", "services.*.tmpfs", "services.*.env_file",
  "services.*.profiles", "services.*.cap_add", "services.*.cap_drop", "services.*.expose",
]);
const BY_KEY: Record<string, (v: unknown) => string> = {
  "services.*.ports": portKey,
  "services.*.volumes": (v) => (isMapping(v) ? String(v.target) : splitVolume(String(v)).target),
  "services.*.secrets": (v) => fileReferenceKey("secrets", v),
  "services.*.configs": (v) => fileReferenceKey("configs", v),
};

/** "services.web.environment" -> "services.*.environment": resource names do not change the rule. */
function rulePath(path: string[]): string {
  return path.map((k, i) => (i === 1 && ["services", "networks", "volumes", "secrets", "configs"].includes(path[0]!) ? "*" : k)).join(".");
}

function mergeMaps(base: Raw, over: Raw, path: string[]): Raw {
  const out: Raw = {};
  for (const k of Object.keys(base)) {
    out[k] = base[k];
    copyEntry(base, k, out, k);
  }
  for (const k of Object.keys(over)) {
    const tag = entryOf(over, k)?.tag;
    if (tag === "!reset") {
      delete out[k];
      continue;
    }
    if (tag === "!override" || !(k in out)) {
      // A new mapping is still walked, for the !reset keys inside it.
      out[k] = tag !== "!override" && isMapping(over[k]) ? mergeMaps({}, over[k] as Raw, [...path, k]) : over[k];
      copyEntry(over, k, out, k);
      continue;
    }
    out[k] = mergeValue(out, over, k, [...path, k]);
    // A scalar (or a replaced value) keeps the position it had in the later file.
    if (out[k] === over[k] || !(typeof out[k] === "object" && out[k] !== null)) copyEntry(over, k, out, k);
  }
  return out;
}

/** The merge of base[key] and over[key]; the parents are passed so that converted forms keep their positions. */
function mergeValue(baseParent: Raw, overParent: Raw, key: string, path: string[]): unknown {
  const base = baseParent[key];
  const over = overParent[key];
  const rule = rulePath(path);
  if (REPLACE.has(rule)) return over;
  if (rule === "services.*.build") return mergeMaps(buildMap(baseParent, key), buildMap(overParent, key), path);
  if (AS_MAP.has(rule)) return mergeMaps(toMap(baseParent, key, rule), toMap(overParent, key, rule), path);
  if (UNIQUE_LIST.has(rule)) return mergeLists(toList(baseParent, key), toList(overParent, key), (v) => JSON.stringify(v));
  const byKey = BY_KEY[rule];
  if (byKey && Array.isArray(base) && Array.isArray(over)) return mergeLists(base, over, byKey);
  if (rule === "services.*.logging" && isMapping(base) && isMapping(over) && over.driver !== undefined && base.driver !== over.driver) return over;
  if (/^services\.\*\.networks\.[^.]+$/.test(rule) && over === null) return base;
  if (isMapping(base) && isMapping(over)) return mergeMaps(base, over, path);
  if (Array.isArray(base) && Array.isArray(over)) return mergeLists(base, over, undefined);
  return over;
}

/**
 * `over`'s items appended to `base`'s; with `key`, an item whose key an
 * earlier item has replaces that one instead (and duplicates are dropped).
 */
function mergeLists(base: unknown[], over: unknown[], key: ((v: unknown) => string) | undefined): unknown[] {
  const out: unknown[] = [];
  const index = new Map<string, number>();
  const add = (list: unknown[], i: number) => {
    const k = key?.(list[i]);
    const at = k === undefined ? undefined : index.get(k);
    const j = at ?? out.length;
    out[j] = list[i];
    copyEntry(list, i, out, j);
    if (k !== undefined && at === undefined) index.set(k, j);
  };
  base.forEach((_, i) => add(base, i));
  over.forEach((_, i) => add(over, i));
  return out;
}

/** `build: ./dir` as `{context: ./dir}`. */
function buildMap(parent: Raw, key: string): Raw {
  const v = parent[key];
  if (isMapping(v)) return v;
  const out: Raw = { context: v };
  copyEntry(parent, key, out, "context");
  return out;
}

/** A list-or-mapping value as a mapping: ["A=b", "C"] -> {A: "b", C: null}; depends_on: [db] -> {db: {condition: service_started}}. */
function toMap(parent: Raw, key: string, rule: string): Raw {
  const v = parent[key];
  if (isMapping(v)) return v;
  const out: Raw = {};
  if (!Array.isArray(v)) return out;
  v.forEach((item, i) => {
    const s = String(item);
    let k = s;
    let value: unknown = null;
    if (rule.endsWith(".depends_on")) value = { condition: "service_started" };
    else if (rule.endsWith("extra_hosts")) {
      const m = /^([^=:]+)[=:](.*)$/.exec(s);
      if (m) [k, value] = [m[1]!, m[2]!];
    } else if (!rule.endsWith(".networks") && s.includes("=")) [k, value] = [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)];
    out[k] = value;
    copyEntry(v, i, out, k);
  });
  return out;
}

/** A string-or-list value as a list. */
function toList(parent: Raw, key: string): unknown[] {
  const v = parent[key];
  if (Array.isArray(v)) return v;
  const out = v === undefined || v === null ? [] : [v];
  if (out.length) copyEntry(parent, key, out, 0);
  return out;
}

function fileReferenceKey(section: "secrets" | "configs", v: unknown): string {
  return isMapping(v) ? fileTarget(section, String(v.source), v.target === undefined ? undefined : String(v.target)) : fileTarget(section, String(v));
}

function portKey(v: unknown): string {
  if (isMapping(v)) return [v.host_ip ?? "", v.target, v.published ?? "", v.protocol ?? "tcp"].join("|");
  const ports = parsePorts(String(v));
  return typeof ports === "string" ? String(v) : ports.map((p) => [p.host_ip ?? "", p.target, p.published ?? "", p.protocol].join("|")).join(",");
}
