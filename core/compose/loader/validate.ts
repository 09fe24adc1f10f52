// Check a file against the compose-spec JSON schema, and say what is wrong in
// plain words at the offending value's file:line:col. The validator is ajv's
// standalone code generated from schemas/compose-spec.json by
// bin/gen-compose-validator: compiling the schema at run time costs ~200 ms.
import { validate as schemaValidate } from "../../../schemas/compose-spec.validate.js";
import { errorAt, formatPath, isMapping, keyPositionAt, positionAt, valueAt } from "./positions.ts";

/** The part of ajv's ErrorObject we read. */
interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Throw the most useful schema error, if any. `file` names the file when an error has no position. */
export function validateDocument(doc: Record<string, unknown>, file: string): void {
  if (schemaValidate(doc)) return;
  const errors = (schemaValidate as unknown as { errors: SchemaError[] }).errors;
  const best = pickError(errors);
  const path = toPath(best.instancePath, doc);
  const prefix = path.length > 0 ? `${formatPath(path)}: ` : "";
  const pos = positionAt(doc, path) ?? { file, line: 1, col: 1 };
  const p = best.params;
  switch (best.keyword) {
    case "additionalProperties": {
      const key = String(p.additionalProperty);
      const keyPos = keyPositionAt(doc, [...path, key]) ?? pos;
      if (path.length === 1 && ["services", "networks", "volumes", "secrets", "configs"].includes(String(path[0])))
        throw errorAt(keyPos, `${prefix}invalid name ${JSON.stringify(key)}`, 'names may hold letters, digits, ".", "_" and "-"');
      throw errorAt(keyPos, `${prefix}unknown key ${JSON.stringify(key)}`, "check the spelling; extension keys must start with x-");
    }
    case "type": {
      const types = errors.filter((e) => e.keyword === "type" && e.instancePath === best.instancePath).flatMap((e) => String(e.params.type).split(","));
      throw errorAt(pos, `${prefix}must be ${article(orList([...new Set(types)].map(typeWord)))} (got ${article(kindOf(valueAt(doc, path)))})`);
    }
    case "required":
      throw errorAt(pos, `${prefix}missing required key ${JSON.stringify(p.missingProperty)}`);
    case "enum":
      throw errorAt(pos, `${prefix}must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")} (got ${JSON.stringify(valueAt(doc, path))})`);
    case "pattern":
      throw errorAt(pos, `${prefix}invalid value ${JSON.stringify(valueAt(doc, path))} (must match ${p.pattern})`);
    case "uniqueItems":
      throw errorAt(pos, `${prefix}items [${Math.min(Number(p.i), Number(p.j))}] and [${Math.max(Number(p.i), Number(p.j))}] are the same`, "remove the duplicate");
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      throw errorAt(pos, `${prefix}must be ${p.comparison} ${p.limit} (got ${JSON.stringify(valueAt(doc, path))})`);
    case "minItems":
    case "minProperties":
      throw errorAt(pos, `${prefix}must not be empty`);
    case "oneOf":
      if (p.passingSchemas) throw errorAt(pos, `${prefix}is ambiguous: it matches more than one of the allowed forms`);
      throw errorAt(pos, `${prefix}is not any of the allowed forms`);
    default:
      throw errorAt(pos, `${prefix}is not valid (${best.keyword} ${JSON.stringify(p)})`);
  }
}

/**
 * ajv reports every failed branch of each oneOf. The error to show is about
 * the deepest value; at that value, a failure inside a branch that accepted
 * the value's type (an unknown key in the mapping form of a port) beats the
 * "must be a string" of the branches that did not, and a wrong type beats the
 * other failures of its own branch (enum, pattern).
 */
function pickError(errors: SchemaError[]): SchemaError {
  const depth = (e: SchemaError) => (e.instancePath === "" ? 0 : e.instancePath.split("/").length);
  const deepest = Math.max(...errors.map(depth));
  const here = errors.filter((e) => depth(e) === deepest && e.keyword !== "oneOf" && e.keyword !== "anyOf");
  const branch = (e: SchemaError) => e.schemaPath.slice(0, e.schemaPath.lastIndexOf("/"));
  const typeFailed = new Set(here.filter((e) => e.keyword === "type").map(branch));
  return here.find((e) => e.keyword !== "type" && !typeFailed.has(branch(e))) ?? here.find((e) => e.keyword === "type") ?? errors.find((e) => depth(e) === deepest)!;
}

/** "/services/web/ports/0" -> ["services", "web", "ports", 0] (indices only where the value is a list). */
function toPath(pointer: string, doc: unknown): (string | number)[] {
  if (pointer === "") return [];
  const out: (string | number)[] = [];
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const key = Array.isArray(cur) ? Number(seg) : seg;
    out.push(key);
    cur = (cur as Record<string | number, unknown> | undefined)?.[key];
  }
  return out;
}

function typeWord(t: string): string {
  return ({ object: "mapping", array: "list" } as Record<string, string>)[t] ?? t;
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "list";
  if (isMapping(v)) return "mapping";
  return typeof v;
}

function orList(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** "a string or number", "an integer", "null". */
function article(phrase: string): string {
  if (phrase === "null") return phrase;
  return /^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`;
}
