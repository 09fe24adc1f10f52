// Request-body validation: the JSON schemas of schemas/api/ (written from
// Docker's swagger), precompiled by bin/gen-api-validators (ajv at run time
// takes ~600 ms to compile them). Unknown fields pass, as Docker ignores
// them; a wrong type is a 400 naming the field and what it should be.
import type { ErrorObject } from "ajv";
import { invalidArgument } from "../errors.ts";
import * as validators from "../../schemas/api/validators.js";

const BY_NAME = {
  auth: validators.auth,
  commit: validators.commit,
  "compose-watch": validators.composeWatch,
  "container-create": validators.containerCreate,
  "exec-create": validators.execCreate,
  "exec-start": validators.execStart,
  "network-connect": validators.networkConnect,
  "network-create": validators.networkCreate,
  "network-disconnect": validators.networkDisconnect,
  "volume-create": validators.volumeCreate,
};

export type SchemaName = keyof typeof BY_NAME;

/** Go's int64 bounds, which the generator gives every integer. */
const INT64_MAX = 9223372036854775807;

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

const ARTICLE: Record<string, string> = { integer: "an integer", number: "a number", string: "a string", boolean: "a boolean", object: "a JSON object", array: "an array" };

/** "HostConfig.Memory", "Env[2]", "(the body)". */
function fieldName(path: string): string {
  if (!path) return "the body";
  return path
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), "");
}

function valueAt(body: unknown, path: string): unknown {
  let v = body;
  for (const p of path.split("/").slice(1)) v = (v as Record<string, unknown> | undefined)?.[p.replace(/~1/g, "/").replace(/~0/g, "~")];
  return v;
}

function describe(err: ErrorObject, body: unknown): string {
  const field = fieldName(err.instancePath);
  const got = typeName(valueAt(body, err.instancePath));
  switch (err.keyword) {
    case "type": {
      const want = String(err.params.type).split(",").filter((t) => t !== "null").map((t) => ARTICLE[t] ?? t);
      return `${field} must be ${want.join(" or ")}, not ${got}`;
    }
    case "minimum":
    case "maximum":
      if (Math.abs(Number(err.params.limit)) >= INT64_MAX) return `${field} must be a 64-bit integer, not ${got.replace("the number ", "")}`;
      return `${field} must be ${err.keyword === "minimum" ? ">=" : "<="} ${err.params.limit}, not ${got.replace("the number ", "")}`;
    case "required":
      return `${fieldName(`${err.instancePath}/${err.params.missingProperty}`)} is required`;
    case "maxItems":
      return `${field} must have at most ${err.params.limit} items`;
    default:
      return `${field} ${err.message ?? "is invalid"}`;
  }
}

/** Check a parsed body against its schema; throws a 400 that names the field. */
export function validateBody<T>(name: SchemaName, body: unknown): T {
  const v = BY_NAME[name];
  if (!v(body)) throw invalidArgument(`invalid request body: ${describe(v.errors![0]!, body)}`);
  if (body === null) return {} as T; // Go decodes null as the zero value
  if (name === "container-create" || name === "commit") {
    // Docker's StrSlice: "Cmd": "sh" is ["sh"].
    const b = body as { Cmd?: unknown; Entrypoint?: unknown };
    if (typeof b.Cmd === "string") b.Cmd = [b.Cmd];
    if (typeof b.Entrypoint === "string") b.Entrypoint = [b.Entrypoint];
  }
  return body as T;
}
