// .env files, read the way Docker Compose reads them (its dotenv package):
// `KEY=value` lines, `export ` prefixes, `#` comments, single quotes taken
// literally, double quotes with escapes and line breaks, and `${VAR}`
// references in unquoted and double-quoted values (earlier keys of the file
// count). The same reader serves the project's .env and services' env_file.
import { readFileSync } from "node:fs";
import { errnoCode, invalidArgument, isBerthError, notFound } from "../../errors.ts";
import { substitute, type Lookup } from "./interpolate.ts";

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"', $: "$" };

/**
 * Parse dotenv text. `lookup` resolves references to variables the file does
 * not set (the process environment); a bare `KEY` line takes its value from it
 * and is left out when it is unset there too.
 */
export function parseDotenv(text: string, file: string, lookup: Lookup = () => undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const resolve: Lookup = (name) => lookup(name) ?? out[name];
  let i = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw invalidArgument(`${file}:${line}: ${msg}`);
  };
  const expand = (v: string): string => {
    try {
      return substitute(v, resolve, () => {});
    } catch (err) {
      if (isBerthError(err)) return fail(err.message);
      throw err;
    }
  };
  const lineEnd = (from: number) => (text.indexOf("\n", from) < 0 ? text.length : text.indexOf("\n", from));
  while (i < text.length) {
    const eol = lineEnd(i);
    // Skip indentation and `export `, then read the key.
    let j = i;
    while (text[j] === " " || text[j] === "\t") j++;
    if (j === eol || text[j] === "#") {
      i = eol + 1;
      line++;
      continue;
    }
    const exp = /^export[ \t]+/.exec(text.slice(j, eol));
    if (exp) j += exp[0].length;
    const key = KEY.exec(text.slice(j, eol))?.[0];
    if (!key) return fail(`invalid line ${JSON.stringify(text.slice(j, eol).trim())}: expected KEY=value`);
    j += key.length;
    while (text[j] === " " || text[j] === "\t") j++;
    if (j === eol || text[j] === "#") {
      const v = lookup(key);
      if (v !== undefined) out[key] = v;
      i = eol + 1;
      line++;
      continue;
    }
    if (text[j] !== "=" && text[j] !== ":") return fail(`invalid line ${JSON.stringify(text.slice(i, eol).trim())}: expected "=" after ${key}`);
    j++;
    while (text[j] === " " || text[j] === "\t") j++;
    const q = text[j];
    if (q === "'" || q === '"') {
      // A quoted value may run over several lines, up to the closing quote.
      let v = "";
      let k = j + 1;
      for (; k < text.length && text[k] !== q; k++) {
        if (q === '"' && text[k] === "\\" && k + 1 < text.length) {
          const e = ESCAPES[text[k + 1]!];
          v += e === undefined ? `\\${text[k + 1]}` : e === "$" ? "$$" : e;
          k++;
        } else v += text[k];
      }
      if (k >= text.length) return fail(`unterminated quoted value for ${key}`);
      out[key] = q === '"' ? expand(v) : v;
      const end = lineEnd(k);
      line += (text.slice(i, k).match(/\n/g) ?? []).length;
      const tail = text.slice(k + 1, end).trim();
      if (tail !== "" && !tail.startsWith("#")) return fail(`unexpected characters after the quoted value of ${key}: ${JSON.stringify(tail)}`);
      i = end + 1;
      line++;
      continue;
    }
    // Unquoted: up to the end of the line; an inline comment starts at " #".
    let v = text.slice(j, eol);
    const hash = v.search(/\s#/);
    if (hash >= 0) v = v.slice(0, hash);
    out[key] = expand(v.trim());
    i = eol + 1;
    line++;
  }
  return out;
}

/** Read a dotenv file; a missing file is a NotFound error unless `required` is false (then it counts as empty). */
export function readDotenv(path: string, shown: string, lookup: Lookup, required = true): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      if (!required) return {};
      throw notFound(`env file ${shown} not found`, "create it, fix the path, or mark it `required: false`");
    }
    throw err;
  }
  return parseDotenv(text, shown, lookup);
}
