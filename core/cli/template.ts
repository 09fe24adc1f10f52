// The part of Go's text/template that `--format` users rely on:
// {{.Field.Sub}}, {{json .X}}, {{upper .X}}, {{lower .X}}, {{index .Map "k"}},
// {{range .List}}...{{end}} and {{if .X}}...{{else}}...{{end}}, plus literal
// text and "\t", "\n" escapes.
import { invalidArgument } from "../errors.ts";

type Node =
  | { t: "text"; v: string }
  | { t: "expr"; v: string }
  | { t: "range"; expr: string; body: Node[] }
  | { t: "if"; expr: string; then: Node[]; else: Node[] };

export function renderTemplate(template: string, data: unknown): string {
  const tokens = template.replace(/\\t/g, "\t").replace(/\\n/g, "\n").split(/(\{\{-?\s*.*?\s*-?\}\})/s);
  let pos = 0;
  const parse = (stopAt: string[]): [Node[], string] => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++]!;
      const m = /^\{\{-?\s*(.*?)\s*-?\}\}$/s.exec(tok);
      if (!m) {
        if (tok) nodes.push({ t: "text", v: tok });
        continue;
      }
      const body = m[1]!;
      if (stopAt.includes(body)) return [nodes, body];
      if (body.startsWith("range ")) {
        const [inner] = parse(["end"]);
        nodes.push({ t: "range", expr: body.slice(6), body: inner });
      } else if (body.startsWith("if ")) {
        const [then, stop] = parse(["else", "end"]);
        const [els] = stop === "else" ? parse(["end"]) : [[]];
        nodes.push({ t: "if", expr: body.slice(3), then, else: els });
      } else nodes.push({ t: "expr", v: body });
    }
    if (stopAt.length) throw invalidArgument(`template parsing error: missing {{end}} in "${template}"`);
    return [nodes, ""];
  };
  const [nodes] = parse([]);
  return exec(nodes, data);
}

function exec(nodes: Node[], dot: unknown): string {
  let out = "";
  for (const n of nodes) {
    if (n.t === "text") out += n.v;
    else if (n.t === "expr") out += show(evaluate(n.v, dot));
    else if (n.t === "range") {
      const v = evaluate(n.expr, dot);
      const items = Array.isArray(v) ? v : v && typeof v === "object" ? Object.values(v) : [];
      for (const item of items) out += exec(n.body, item);
    } else out += exec(truthy(evaluate(n.expr, dot)) ? n.then : n.else, dot);
  }
  return out;
}

function evaluate(expr: string, dot: unknown): unknown {
  const parts = expr.trim().match(/"[^"]*"|\S+/g) ?? [];
  const value = (p: string) => (p.startsWith('"') ? p.slice(1, -1) : field(p, dot));
  const [fn, ...rest] = parts;
  switch (fn) {
    case "json":
      return JSON.stringify(value(rest[0] ?? "."));
    case "upper":
      return String(value(rest[0] ?? ".")).toUpperCase();
    case "lower":
      return String(value(rest[0] ?? ".")).toLowerCase();
    case "index": {
      const base = value(rest[0] ?? ".") as Record<string, unknown> | undefined;
      return base?.[String(value(rest[1] ?? ""))];
    }
    case "join": {
      const list = value(rest[0] ?? ".");
      return Array.isArray(list) ? list.join(String(value(rest[1] ?? '""'))) : "";
    }
    default:
      if (parts.length !== 1) throw invalidArgument(`template: unsupported expression "{{${expr}}}"`);
      return value(fn!);
  }
}

function field(path: string, dot: unknown): unknown {
  if (path === ".") return dot;
  if (!path.startsWith(".")) throw invalidArgument(`template: unsupported expression "${path}"`);
  let v: unknown = dot;
  for (const k of path.slice(1).split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0));

function show(v: unknown): string {
  if (v === undefined || v === null) return "<no value>";
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  if (typeof v === "object") return `map[${Object.entries(v).map(([k, x]) => `${k}:${show(x)}`).join(" ")}]`;
  return String(v);
}
