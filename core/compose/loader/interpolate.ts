// Variable substitution, as Docker Compose does it before anything else looks
// at the values: `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`,
// `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, defaults that
// hold references themselves, and `$$` for a literal `$`. Only values are
// substituted, never keys. An unset variable becomes "" with a warning.
import { BerthError, invalidArgument, isBerthError } from "../../errors.ts";
import type { ValuePath } from "../model.ts";
import { entryOf, errorAt, formatPath, isMapping } from "./positions.ts";

export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Substitute the references in `text`. `missing` is called with each unset
 * variable used without a default. Throws an InvalidArgument (without a
 * position) for `:?`/`?` on unset variables and for a malformed `$`.
 */
export function substitute(text: string, lookup: Lookup, missing: (name: string) => void): string {
  if (!text.includes("$")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const d = text.indexOf("$", i);
    if (d < 0) break;
    out += text.slice(i, d);
    const next = text[d + 1];
    if (next === "$") {
      out += "$";
      i = d + 2;
    } else if (next === "{") {
      const end = closingBrace(text, d + 2);
      if (end < 0) throw invalid(text);
      out += braced(text.slice(d + 2, end), text, lookup, missing);
      i = end + 1;
    } else {
      const m = NAME.exec(text.slice(d + 1));
      if (!m) throw invalid(text);
      out += value(m[0], lookup, missing);
      i = d + 1 + m[0].length;
    }
  }
  return out + text.slice(i);
}

function invalid(text: string): BerthError {
  return invalidArgument(`invalid interpolation format in ${JSON.stringify(text)}`, 'write "$$" for a literal "$"; references are $VAR or ${VAR}');
}

/** The index of the `}` closing a `${` whose body starts at `from`, counting nested `${...}`. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "$") i++;
    else if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

function value(name: string, lookup: Lookup, missing: (name: string) => void): string {
  const v = lookup(name);
  if (v === undefined) {
    missing(name);
    return "";
  }
  return v;
}

/** The inside of `${...}`: a name, then optionally an operator and a word (itself substituted, only when used). */
function braced(body: string, text: string, lookup: Lookup, missing: (name: string) => void): string {
  const m = NAME.exec(body);
  if (!m) throw invalid(text);
  const name = m[0];
  const rest = body.slice(name.length);
  if (rest === "") return value(name, lookup, missing);
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (!op) throw invalid(text);
  const word = () => substitute(rest.slice(op.length), lookup, missing);
  const v = lookup(name);
  const unset = op.startsWith(":") ? v === undefined || v === "" : v === undefined;
  switch (op) {
    case ":-":
    case "-":
      return unset ? word() : v!;
    case ":?":
    case "?": {
      if (!unset) return v!;
      const msg = word();
      throw invalidArgument(`required variable ${name} is missing a value${msg ? `: ${msg}` : ""}`, `set ${name} in the environment or in .env`);
    }
    default:
      return unset ? "" : word();
  }
}

/** The warning Docker Compose prints for an unset variable. */
export function unsetWarning(name: string): string {
  return `The "${name}" variable is not set. Defaulting to a blank string.`;
}

/** Substitute every string value of a parsed file in place; errors name the value's file:line:col. */
export function interpolateDocument(doc: Record<string, unknown>, lookup: Lookup, warnings: string[]): void {
  const missing = (name: string) => {
    const w = unsetWarning(name);
    if (!warnings.includes(w)) warnings.push(w);
  };
  const walk = (container: Record<string, unknown> | unknown[], path: (string | number)[]) => {
    const keys: (string | number)[] = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
    for (const k of keys) {
      const v = (container as Record<string | number, unknown>)[k];
      if (typeof v === "string") {
        try {
          (container as Record<string | number, unknown>)[k] = substitute(v, lookup, missing);
        } catch (err) {
          if (!isBerthError(err)) throw err;
          throw errorAt(entryOf(container, k)?.value, `${formatPath([...path, k] as ValuePath)}: ${err.message}`, err.hint);
        }
      } else if (Array.isArray(v) || isMapping(v)) walk(v, [...path, k]);
    }
  };
  walk(doc, []);
}
