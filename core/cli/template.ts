// Go's text/template, the part `--format`/`-f` users rely on, plus the Docker CLI's
// template functions (json, split, join, title, lower, upper, pad, truncate).
//
// Data are JSON values from the Engine API, so values behave like Go's interface{}
// values decoded by encoding/json: numbers are float64, except that whole numbers
// print as ints, as the docker CLI prints the ints of Docker's typed structs;
// objects are map[string]interface{} (fields are map keys; printing and range go in
// sorted key order). Go ints (integer literals, len, range indexes) are bigints.
//
// Left out: define/template/block, methods, %[n] argument indexes, `*` widths.
import { invalidArgument } from "../errors.ts";

type Obj = Record<string, unknown>;

export function renderTemplate(template: string, data: unknown): string {
  // The Docker CLI turns the two-character sequences \t and \n into tab and newline.
  const src = template.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  const nodes = new Parser(src, lex(src)).parse();
  return new Exec(src, data).run(nodes);
}

/** "line" (parse errors) or "line:col" (exec errors) of a position, as Go reports them. */
function where(src: string, pos: number, col = false): string {
  const before = src.slice(0, pos);
  const line = before.split("\n").length;
  return col ? `${line}:${pos - before.lastIndexOf("\n") - 1}` : `${line}`;
}

// ---------------------------------------------------------------- lexer

type Kind =
  | "text" | "left" | "right" | "ident" | "kw" | "field" | "var" | "str" | "char" | "num"
  | "bool" | "nil" | "dot" | "pipe" | "lparen" | "rparen" | "decl" | "assign" | "comma" | "eof";
/** sp: whitespace came before the token (it separates arguments; `.A.B` is one chain). */
interface Tok { k: Kind; v: string; pos: number; sp: boolean }

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"]);
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isAlnum = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
const NUMBER = /[+-]?(?:0[xXbBoO][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9]+)?)/y;
const goRune = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")} '${c}'`;

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  const err = (pos: number, msg: string) => invalidArgument(`template: :${where(src, pos)}: ${msg}`);
  const push = (k: Kind, v: string, pos: number, sp = false) => void toks.push({ k, v, pos, sp });
  const skipSpace = (j: number) => {
    while (isSpace(src[j])) j++;
    return j;
  };
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      push("text", src.slice(i), i);
      break;
    }
    let text = src.slice(i, open);
    let j = open + 2;
    // "{{- " trims the whitespace before the action; "{{-3}}" is just a number.
    if (src[j] === "-" && isSpace(src[j + 1])) {
      text = text.replace(/[ \t\r\n]+$/, "");
      j += 2;
    }
    if (text) push("text", text, i);
    if (src.startsWith("/*", j)) {
      const end = src.indexOf("*/", j + 2);
      if (end < 0) throw err(open, "unclosed comment");
      const k = end + 2;
      if (src.startsWith("}}", k)) i = k + 2;
      else if (isSpace(src[k]) && src.startsWith("-}}", k + 1)) i = skipSpace(k + 4);
      else throw err(end, "comment ends before closing delimiter");
      continue;
    }
    push("left", "{{", open);
    let sp = false;
    for (;;) {
      const c = src[j];
      if (c === undefined) throw err(open, "unclosed action");
      if (src.startsWith("}}", j)) {
        push("right", "}}", j);
        i = j + 2;
        break;
      }
      if (isSpace(c)) {
        if (src.startsWith("-}}", j + 1)) {
          // " -}}" trims the whitespace after the action.
          push("right", "}}", j);
          i = skipSpace(j + 4);
          break;
        }
        sp = true;
        j++;
        continue;
      }
      const start = j;
      let k: Kind;
      if (c === "|") (k = "pipe"), j++;
      else if (c === "(") (k = "lparen"), j++;
      else if (c === ")") (k = "rparen"), j++;
      else if (c === ",") (k = "comma"), j++;
      else if (c === "=") (k = "assign"), j++;
      else if (c === ":") {
        if (src[j + 1] !== "=") throw err(j, "expected :=");
        (k = "decl"), (j += 2);
      } else if (c === '"' || c === "'") {
        for (j++; src[j] !== c; j++) {
          if (src[j] === "\\") j++;
          if (j >= src.length || src[j] === "\n")
            throw err(start, c === '"' ? "unterminated quoted string" : "unterminated character constant");
        }
        j++;
        k = c === '"' ? "str" : "char";
      } else if (c === "`") {
        const end = src.indexOf("`", j + 1);
        if (end < 0) throw err(start, "unterminated raw quoted string");
        (j = end + 1), (k = "str");
      } else if (c === "$") {
        for (j++; isAlnum(src[j]); ) j++;
        k = "var";
      } else if (c === "." && !/[0-9]/.test(src[j + 1] ?? "")) {
        for (j++; isAlnum(src[j]); ) j++;
        k = j - start > 1 ? "field" : "dot";
      } else if (/[0-9.+-]/.test(c)) {
        NUMBER.lastIndex = j;
        const m = NUMBER.exec(src);
        if (!m) throw err(j, `unrecognized character in action: ${goRune(c)}`);
        j += m[0].length;
        if (isAlnum(src[j]) || src[j] === ".") {
          while (isAlnum(src[j]) || src[j] === ".") j++;
          throw err(start, `bad number syntax: "${src.slice(start, j)}"`);
        }
        k = "num";
      } else if (isAlnum(c)) {
        while (isAlnum(src[j])) j++;
        const w = src.slice(start, j);
        k = KEYWORDS.has(w) ? "kw" : w === "true" || w === "false" ? "bool" : w === "nil" ? "nil" : "ident";
      } else throw err(j, `unrecognized character in action: ${goRune(c)}`);
      push(k, src.slice(start, j), start, sp);
      sp = false;
    }
  }
  push("eof", "", src.length);
  return toks;
}

const ESC: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "'": "'", '"': '"' };

/** Go's escapes in "..." and '...' literals; undefined when one is invalid. */
function unquote(lit: string): string | undefined {
  let ok = true;
  const s = lit.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/gsu, (_, e: string) => {
    if (e.length === 1 || !/^[xuU0-7]/.test(e)) return ESC[e] ?? ((ok = false), "");
    const code = /^[0-7]/.test(e) ? parseInt(e, 8) : parseInt(e.slice(1), 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : ((ok = false), "");
  });
  return ok ? s : undefined;
}

/** Integer syntax gives a Go int (bigint); a "." or exponent gives a float64. */
function parseNumber(text: string): number | bigint | undefined {
  const t = text.replace(/_/g, "");
  const body = t.replace(/^[+-]/, "");
  if (/^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+)$/.test(body)) {
    const n = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
    return t[0] === "-" ? -n : n;
  }
  const f = Number(t);
  return Number.isNaN(f) ? undefined : f;
}

// ---------------------------------------------------------------- parser

interface At { pos: number; text: string } // where a node is, for error messages
type Op = At &
  (
    | { k: "dot" }
    | { k: "field"; names: string[] } // .A.B, relative to dot
    | { k: "var"; name: string; names: string[] } // $x.A.B
    | { k: "func"; name: string }
    | { k: "const"; v: unknown } // string, number (float64), bigint (int), boolean, null (nil)
    | { k: "sub"; pipe: Pipe; names: string[] } // (pipeline).A.B
  );
interface Cmd extends At { args: Op[] }
interface Pipe { pos: number; decl: string[]; assign: boolean; cmds: Cmd[] }
type Block = { t: "if" | "with" | "range"; pipe: Pipe; list: Node[]; elseList: Node[] };
type Node = { t: "text"; v: string } | { t: "action"; pipe: Pipe } | Block | { t: "break" | "continue" };

class Parser {
  private i = 0;
  private vars = ["$"]; // variables in scope, checked at parse time as Go does
  private rangeDepth = 0;
  constructor(
    private src: string,
    private toks: Tok[],
  ) {}

  parse(): Node[] {
    return this.list(true)[0];
  }

  private peek(): Tok {
    return this.toks[Math.min(this.i, this.toks.length - 1)]!;
  }
  private next(): Tok {
    const t = this.peek();
    this.i++;
    return t;
  }
  private err(pos: number, msg: string) {
    return invalidArgument(`template: :${where(this.src, pos)}: ${msg}`);
  }
  private unexpected(t: Tok, ctx: string) {
    return this.err(t.pos, `unexpected ${t.k === "eof" ? "EOF" : quote(t.v)} in ${ctx}`);
  }
  private expect(k: Kind, ctx: string): Tok {
    const t = this.next();
    if (t.k !== k) throw this.unexpected(t, ctx);
    return t;
  }

  /** Nodes up to {{end}} or {{else}} (returned, its "}}" not yet read), or EOF at top level. */
  private list(top: boolean): [Node[], Tok | undefined] {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.k === "eof") {
        if (top) return [nodes, undefined];
        throw this.err(t.pos, "unexpected EOF");
      }
      if (t.k === "text") {
        nodes.push({ t: "text", v: t.v });
        continue;
      }
      const w = this.next();
      if (w.k === "kw" && (w.v === "end" || w.v === "else")) {
        if (top) throw this.err(w.pos, `unexpected {{${w.v}}}`);
        return [nodes, w];
      }
      if (w.k === "kw") nodes.push(this.keyword(w));
      else {
        this.i--;
        nodes.push({ t: "action", pipe: this.pipeline("command", "right") });
      }
    }
  }

  private keyword(w: Tok): Node {
    switch (w.v) {
      case "if":
      case "with":
      case "range":
        return this.control(w.v);
      case "break":
      case "continue":
        if (!this.rangeDepth) throw this.err(w.pos, `{{${w.v}}} outside {{range}}`);
        this.expect("right", `{{${w.v}}}`);
        return { t: w.v };
      default:
        throw this.err(w.pos, `{{${w.v}}} is not supported`);
    }
  }

  private control(kind: Block["t"]): Block {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, "right");
    if (kind === "range") this.rangeDepth++;
    const [list, stop] = this.list(false);
    if (kind === "range") this.rangeDepth--;
    let elseList: Node[] = [];
    const nx = this.peek();
    if (stop!.v === "else" && kind !== "range" && nx.k === "kw" && nx.v === kind) {
      // {{else if ...}} / {{else with ...}}: a nested block that shares our {{end}}.
      this.next();
      elseList = [this.control(kind)];
    } else if (stop!.v === "else") {
      this.expect("right", "{{else}}");
      const [els, end] = this.list(false);
      if (end!.v !== "end") throw this.err(end!.pos, "expected end; found {{else}}");
      this.expect("right", "{{end}}");
      elseList = els;
    } else this.expect("right", "{{end}}");
    this.vars.length = mark; // variables live until the block's {{end}}
    return { t: kind, pipe, list, elseList };
  }

  /** [$x := | $x = | $i, $v :=] cmd | cmd ..., up to "}}" or ")" (consumed). */
  private pipeline(ctx: string, end: "right" | "rparen"): Pipe {
    const pos = this.peek().pos;
    const decl: string[] = [];
    let assign = false;
    if (this.peek().k === "var") {
      const save = this.i;
      const v = this.next();
      const op = this.next();
      if (op.k === "decl" || op.k === "assign") decl.push(v.v), (assign = op.k === "assign");
      else if (op.k === "comma" && ctx === "range") {
        const v2 = this.expect("var", "range declaration");
        const op2 = this.next();
        if (op2.k !== "decl" && op2.k !== "assign") throw this.unexpected(op2, "range declaration");
        decl.push(v.v, v2.v);
        assign = op2.k === "assign";
      } else this.i = save;
    }
    for (const d of decl) if (assign && !this.vars.includes(d)) throw this.err(pos, `undefined variable "${d}"`);
    if (this.peek().k === end) throw this.err(pos, `missing value for ${ctx}`);
    const cmds: Cmd[] = [];
    for (;;) {
      cmds.push(this.command());
      const t = this.next();
      if (t.k === end) break;
      if (t.k !== "pipe") throw this.unexpected(t, ctx);
    }
    cmds.forEach((c, n) => {
      const k = c.args[0]!.k;
      if (n > 0 && (k === "const" || k === "dot")) throw this.err(c.pos, `non executable command in pipeline stage ${n + 1}`);
    });
    if (!assign) this.vars.push(...decl);
    return { pos, decl, assign, cmds };
  }

  private command(): Cmd {
    const pos = this.peek().pos;
    const args: Op[] = [];
    for (let t = this.peek(); !["pipe", "right", "rparen", "eof"].includes(t.k); t = this.peek()) {
      if (args.length && !t.sp) throw this.unexpected(t, "operand");
      args.push(this.operand());
    }
    const first = args[0];
    if (!first) throw this.err(pos, "empty command");
    if (first.k === "const" && first.v === null) throw this.err(pos, "nil is not a command");
    return { pos, args, text: this.textFrom(pos) };
  }

  private textFrom(pos: number): string {
    const last = this.toks[this.i - 1]!;
    return this.src.slice(pos, last.pos + last.v.length);
  }

  private operand(): Op {
    const t = this.next();
    const at = { pos: t.pos, text: "" };
    let op: Op;
    switch (t.k) {
      case "ident":
        if (!Object.hasOwn(FUNCS, t.v)) throw this.err(t.pos, `function "${t.v}" not defined`);
        op = { ...at, k: "func", name: t.v };
        break;
      case "dot":
        op = { ...at, k: "dot" };
        break;
      case "field":
        op = { ...at, k: "field", names: [t.v.slice(1)] };
        break;
      case "var":
        if (!this.vars.includes(t.v)) throw this.err(t.pos, `undefined variable "${t.v}"`);
        op = { ...at, k: "var", name: t.v, names: [] };
        break;
      case "str":
      case "char": {
        const s = t.v[0] === "`" ? t.v.slice(1, -1) : unquote(t.v);
        if (s === undefined) throw this.err(t.pos, `invalid syntax: ${t.v}`);
        if (t.k === "char" && [...s].length !== 1) throw this.err(t.pos, `malformed character constant: ${t.v}`);
        op = { ...at, k: "const", v: t.k === "char" ? BigInt(s.codePointAt(0)!) : s };
        break;
      }
      case "num": {
        const v = parseNumber(t.v);
        if (v === undefined) throw this.err(t.pos, `bad number syntax: "${t.v}"`);
        op = { ...at, k: "const", v };
        break;
      }
      case "bool":
      case "nil":
        op = { ...at, k: "const", v: t.k === "nil" ? null : t.v === "true" };
        break;
      case "lparen":
        op = { ...at, k: "sub", pipe: this.pipeline("parenthesized pipeline", "rparen"), names: [] };
        break;
      default:
        throw this.unexpected(t, "operand");
    }
    // A field chain glued to the term: .A.B, $x.A, (pipeline).A
    for (let f = this.peek(); f.k === "field" && !f.sp; f = this.peek()) {
      if (op.k !== "field" && op.k !== "var" && op.k !== "sub") throw this.err(f.pos, `unexpected . after term ${quote(t.v)}`);
      if (op.names.length === (op.k === "field" ? 1 : 0)) op.pos = f.pos; // Go reports chains where the chain starts
      op.names.push(this.next().v.slice(1));
    }
    op.text = this.textFrom(t.pos);
    return op;
  }
}

// ---------------------------------------------------------------- evaluator

const NONE = Symbol("no piped value");
const BREAK = Symbol("break");
const CONTINUE = Symbol("continue");

class Exec {
  private vars: { name: string; v: unknown }[];
  private out = "";
  constructor(
    private src: string,
    data: unknown,
  ) {
    this.vars = [{ name: "$", v: data }];
  }

  run(nodes: Node[]): string {
    this.walk(nodes, this.vars[0]!.v);
    return this.out;
  }

  private err(at: At, msg: string) {
    return invalidArgument(`template: :${where(this.src, at.pos, true)}: executing "" at <${at.text}>: ${msg}`);
  }

  private walk(nodes: Node[], dot: unknown): void {
    for (const n of nodes) {
      switch (n.t) {
        case "text":
          this.out += n.v;
          break;
        case "action": {
          const v = this.pipe(n.pipe, dot);
          // A missing key or JSON null at top level is Go's invalid value: "<no value>".
          if (!n.pipe.decl.length) this.out += v == null ? "<no value>" : fmtV(v);
          break;
        }
        case "if":
        case "with": {
          const mark = this.vars.length;
          const v = this.pipe(n.pipe, dot);
          if (truth(v)) this.walk(n.list, n.t === "with" ? v : dot);
          else this.walk(n.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case "range":
          this.range(n, dot);
          break;
        case "break":
          throw BREAK;
        case "continue":
          throw CONTINUE;
      }
    }
  }

  private range(n: Block, dot: unknown): void {
    const mark = this.vars.length;
    const v = this.pipe({ ...n.pipe, decl: [] }, dot);
    let items: [unknown, unknown][];
    if (Array.isArray(v)) items = v.map((x, i) => [BigInt(i), x]);
    else if (isObj(v)) items = Object.keys(v).sort().map((k) => [k, v[k]]);
    else if (typeof v === "bigint") items = Array.from({ length: Math.max(0, Number(v)) }, (_, i) => [BigInt(i), BigInt(i)]);
    else if (v == null) items = [];
    else throw this.err(n.pipe.cmds[0]!, `range can't iterate over ${fmtV(v)}`);
    if (!items.length) this.walk(n.elseList, dot);
    const [a, b] = n.pipe.decl;
    for (const [key, elem] of items) {
      const m = this.vars.length;
      if (a !== undefined) this.declare(a, b === undefined ? elem : key, n.pipe.assign);
      if (b !== undefined) this.declare(b, elem, n.pipe.assign);
      try {
        this.walk(n.list, elem);
      } catch (e) {
        this.vars.length = m;
        if (e === BREAK) break;
        if (e !== CONTINUE) throw e;
      }
      this.vars.length = m; // variables declared in the body live for one iteration
    }
    this.vars.length = mark;
  }

  private declare(name: string, v: unknown, assign: boolean): void {
    if (!assign) return void this.vars.push({ name, v });
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return void (this.vars[i]!.v = v);
  }

  private lookup(name: string, at: At): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.v;
    throw this.err(at, `undefined variable: ${name}`);
  }

  private pipe(p: Pipe, dot: unknown): unknown {
    let v: unknown = NONE;
    for (const c of p.cmds) v = this.cmd(c, dot, v); // each result goes in as the next command's last argument
    for (const d of p.decl) this.declare(d, v, p.assign);
    return v;
  }

  private cmd(c: Cmd, dot: unknown, final: unknown): unknown {
    const [first, ...rest] = c.args as [Op, ...Op[]];
    if (first.k === "func") return this.call(first.name, rest, dot, final, c);
    const v = this.arg(first, dot);
    if (rest.length || final !== NONE) {
      const names = "names" in first ? first.names : [];
      throw this.err(c, names.length ? `${names[names.length - 1]} is not a method but has arguments` : `can't give argument to non-function ${first.text}`);
    }
    return v;
  }

  private arg(op: Op, dot: unknown): unknown {
    switch (op.k) {
      case "dot":
        return dot;
      case "const":
        return op.v;
      case "func":
        return this.call(op.name, [], dot, NONE, op);
      case "field":
        return this.fields(dot, op.names, op);
      case "var":
        return this.fields(this.lookup(op.name, op), op.names, op);
      case "sub":
        return this.fields(this.pipe(op.pipe, dot), op.names, op);
    }
  }

  /** Map lookups; a key of a missing value or null is missing too, anything else is an error. */
  private fields(v: unknown, names: string[], at: At): unknown {
    for (const name of names) {
      if (v == null) v = undefined;
      else if (isObj(v)) v = Object.hasOwn(v, name) ? v[name] : undefined;
      else throw this.err(at, `can't evaluate field ${name} in type ${typeName(v)}`);
    }
    return v;
  }

  private call(name: string, argOps: Op[], dot: unknown, final: unknown, at: At): unknown {
    const [min, max, fn] = FUNCS[name]!;
    const n = argOps.length + (final === NONE ? 0 : 1);
    if (n < min || n > max) {
      const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      throw this.err(at, `wrong number of args for ${name}: want ${want} got ${n}`);
    }
    const get = (i: number) => (i < argOps.length ? this.arg(argOps[i]!, dot) : final);
    if (name === "and" || name === "or") {
      // Evaluated lazily; the result is the operand that decided (Go 1.18+).
      let v: unknown;
      for (let i = 0; i < n; i++) if (truth((v = get(i))) === (name === "or")) return v;
      return v;
    }
    const args = Array.from({ length: n }, (_, i) => get(i));
    try {
      return fn(args);
    } catch (e) {
      if (e instanceof FnError) throw this.err(at, e.plain ? e.message : `error calling ${name}: ${e.message}`);
      throw e;
    }
  }
}

// ---------------------------------------------------------------- values

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number | bigint => typeof v === "number" || typeof v === "bigint";
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Go's truth: false, 0, "", nil and empty lists/maps are false. */
function truth(v: unknown): boolean {
  if (v == null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return Boolean(v);
}

/** The Go type a JSON-decoded value has, for messages. */
function typeName(v: unknown): string {
  if (v == null) return "nil";
  if (Array.isArray(v)) return "[]interface {}";
  const names: Record<string, string> = { string: "string", number: "float64", bigint: "int", boolean: "bool" };
  return names[typeof v] ?? "map[string]interface {}";
}

/** fmt's %v: lists as [a b], maps as map[k:v] in key order, nil as <nil>. */
function fmtV(v: unknown): string {
  if (v == null) return "<nil>";
  if (typeof v === "string") return v;
  // Whole numbers print as ints: the docker CLI formats Docker's typed structs,
  // whose counts, sizes and pids are ints (Memory 33554432, not 3.3554432e+07).
  if (typeof v === "number") return Number.isSafeInteger(v) ? String(v) : fmtFloat(v, "g", -1);
  if (Array.isArray(v)) return `[${v.map(fmtV).join(" ")}]`;
  if (isObj(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${fmtV(v[k])}`).join(" ")}]`;
  return String(v);
}

/** Go's %e/%f/%g of a float64 (prec -1: default; for %g/%v the shortest exact digits). */
function fmtFloat(v: number, verb: string, prec: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  const lower = verb.toLowerCase();
  const p = Math.min(prec < 0 ? 6 : prec, 100);
  let out: string;
  if (lower === "e") out = v.toExponential(p).replace(/e([+-])(\d)$/, (_, s: string, d: string) => `e${s}0${d}`);
  else if (lower === "f") out = Math.abs(v) < 1e21 ? v.toFixed(p) : `${BigInt(v)}${p ? `.${"0".repeat(p)}` : ""}`;
  else out = fmtG(v, prec);
  if (Object.is(v, -0) && out[0] !== "-") out = `-${out}`;
  return verb === lower ? out : out.toUpperCase();
}

/** strconv's 'g': exponent form when exp < -4 or exp >= precision (6 for shortest). */
function fmtG(v: number, prec: number): string {
  const p = prec === 0 ? 1 : prec;
  const [mant, e] = Math.abs(v).toExponential(p < 0 ? undefined : Math.min(p - 1, 100)).split("e") as [string, string];
  const digits = mant.replace(".", "").replace(/0+$/, "") || "0";
  const exp = Number(e);
  let eprec = p < 0 ? 6 : p;
  if (p >= 0 && eprec > digits.length && digits.length >= exp + 1) eprec = digits.length;
  let out: string;
  if (exp < -4 || exp >= eprec)
    out = `${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ""}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  else if (exp < 0) out = `0.${"0".repeat(-exp - 1)}${digits}`;
  else out = digits.length > exp + 1 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : digits.padEnd(exp + 1, "0");
  return (v < 0 || Object.is(v, -0) ? "-" : "") + out;
}

/** strconv.Quote (q = '"') and QuoteRune (q = "'"). */
function quote(s: string, q = '"'): string {
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === "\\") out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f) out += named[c] ?? `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c < 0x7f || isPrint(ch)) out += ch;
    else out += c < 0x10000 ? `\\u${c.toString(16).padStart(4, "0")}` : `\\U${c.toString(16).padStart(8, "0")}`;
  }
  return out + q;
}
const isPrint = (ch: string) => ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);

// ---------------------------------------------------------------- printf

interface Spec { flags: string; width: number; prec: number; verb: string }

function sprintf(format: string, args: unknown[]): string {
  let out = "";
  let next = 0;
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== "%") {
      out += format[i];
      continue;
    }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d*))?(.)?/su.exec(format.slice(i + 1))!;
    i += m[0].length;
    const verb = m[4];
    if (verb === undefined) out += "%!(NOVERB)";
    else if (verb === "%") out += "%";
    else if (next >= args.length) out += `%!${verb}(MISSING)`;
    else out += fmtArg(args[next++], { flags: m[1]!, width: m[2] ? Number(m[2]) : -1, prec: m[3] === undefined ? -1 : Number(m[3] || 0), verb });
  }
  if (next < args.length) out += `%!(EXTRA ${args.slice(next).map((a) => (a == null ? "<nil>" : `${typeName(a)}=${fmtV(a)}`)).join(", ")})`;
  return out;
}

/** One argument under one verb; lists and maps apply the verb to each element, as fmt does. */
function fmtArg(v: unknown, s: Spec): string {
  if (Array.isArray(v)) return `[${v.map((x) => fmtArg(x, s)).join(" ")}]`;
  if (isObj(v)) return `map[${Object.keys(v).sort().map((k) => `${fmtArg(k, s)}:${fmtArg(v[k], s)}`).join(" ")}]`;
  const { verb } = s;
  const bad = () => (v == null ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${fmtV(v)})`);
  // JSON numbers are float64, but Docker's own structs have ints: integral floats pass as ints.
  const int = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : undefined;
  const cut = (str: string) => (s.prec >= 0 ? [...str].slice(0, s.prec).join("") : str);
  switch (verb) {
    case "v":
      if (int !== undefined && s.prec < 0) return padNum(String(int), s);
      if (typeof v === "number") return padNum(fmtFloat(v, "g", s.prec), s);
      return pad(v == null ? "<nil>" : cut(String(v)), s);
    case "s":
      return typeof v === "string" ? pad(cut(v), s) : bad();
    case "q":
      if (typeof v === "string") return pad(quote(cut(v)), s);
      return typeof v === "bigint" ? pad(quote(String.fromCodePoint(Number(v)), "'"), s) : bad();
    case "t":
      return typeof v === "boolean" ? pad(String(v), s) : bad();
    case "c":
      return int !== undefined ? pad(String.fromCodePoint(Number(int)), s) : bad();
    case "d":
      return int !== undefined ? padNum(String(int), s) : bad();
    case "x":
    case "X":
    case "o":
    case "b": {
      if (typeof v === "string" && verb.toLowerCase() === "x") {
        const hex = Array.from(utf8(v), (b) => b.toString(16).padStart(2, "0")).join("");
        return pad(verb === "X" ? hex.toUpperCase() : hex, s);
      }
      if (int === undefined) return bad();
      let digits = (int < 0n ? -int : int).toString(verb === "o" ? 8 : verb === "b" ? 2 : 16);
      if (verb === "X") digits = digits.toUpperCase();
      if (s.flags.includes("#")) digits = ({ x: "0x", X: "0X", o: "0", b: "0b" } as Record<string, string>)[verb] + digits;
      return padNum((int < 0n ? "-" : "") + digits, s);
    }
    case "e":
    case "E":
    case "f":
    case "F":
    case "g":
    case "G":
      return isNum(v) ? padNum(fmtFloat(Number(v), verb, s.prec), s) : bad();
    default:
      return bad();
  }
}

function pad(str: string, s: Spec): string {
  const n = s.width - [...str].length;
  if (n <= 0) return str;
  return s.flags.includes("-") ? str + " ".repeat(n) : " ".repeat(n) + str;
}

/** Numbers take the + and space flags, and "0" pads with zeros after the sign. */
function padNum(str: string, s: Spec): string {
  let sign = "";
  if (str[0] === "-" || str[0] === "+") (sign = str[0]), (str = str.slice(1));
  else if (s.flags.includes("+")) sign = "+";
  else if (s.flags.includes(" ")) sign = " ";
  if (s.flags.includes("0") && !s.flags.includes("-") && /^[0-9]/.test(str)) return sign + str.padStart(s.width - sign.length, "0");
  return pad(sign + str, s);
}

// ---------------------------------------------------------------- functions

/** plain: the message stands alone (argument type errors); else "error calling f: msg". */
class FnError extends Error {
  constructor(
    msg: string,
    readonly plain = false,
  ) {
    super(msg);
  }
}

function str(v: unknown): string {
  if (typeof v === "string") return v;
  throw new FnError(v == null ? "invalid value; expected string" : `wrong type for value; expected string; got ${typeName(v)}`, true);
}

function int(v: unknown): number {
  if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) return Number(v);
  throw new FnError(v == null ? "invalid value; expected int" : `wrong type for value; expected int; got ${typeName(v)}`, true);
}

/** An index into something of length len (slice bounds pass len + 1). */
function toIndex(k: unknown, len: number): number {
  if (typeof k !== "bigint" && !(typeof k === "number" && Number.isInteger(k)))
    throw new FnError(k == null ? "cannot index slice/array with nil" : `cannot index slice/array with type ${typeName(k)}`);
  const i = Number(k);
  if (i < 0 || i >= len) throw new FnError(`index out of range: ${i}`);
  return i;
}

function length(v: unknown): number {
  if (typeof v === "string") return utf8(v).length; // Go counts bytes
  if (Array.isArray(v)) return v.length;
  if (isObj(v)) return Object.keys(v).length;
  throw new FnError(v == null ? "len of nil pointer" : `len of type ${typeName(v)}`);
}

function index(v: unknown, k: unknown): unknown {
  if (v == null) throw new FnError("index of untyped nil");
  if (Array.isArray(v)) return v[toIndex(k, v.length)];
  if (typeof v === "string") {
    const bytes = utf8(v);
    return BigInt(bytes[toIndex(k, bytes.length)]!);
  }
  if (!isObj(v)) throw new FnError(`can't index item of type ${typeName(v)}`);
  if (typeof k !== "string") throw new FnError(`value has type ${typeName(k)}; should be string`);
  return Object.hasOwn(v, k) ? v[k] : undefined; // a missing key is the zero value: <no value>
}

function slice(v: unknown, idx: unknown[]): unknown {
  if (v == null) throw new FnError("slice of untyped nil");
  if (typeof v === "string" && idx.length > 2) throw new FnError("cannot 3-index slice a string");
  const len = typeof v === "string" ? utf8(v).length : Array.isArray(v) ? v.length : -1;
  if (len < 0) throw new FnError(`can't slice item of type ${typeName(v)}`);
  const [i = 0, j = len] = idx.map((k) => toIndex(k, len + 1));
  if (i > j) throw new FnError(`invalid slice index: ${i} > ${j}`);
  return typeof v === "string" ? new TextDecoder().decode(utf8(v).slice(i, j)) : (v as unknown[]).slice(i, j);
}

/** Go's eq on basic values; ints and floats compare by value (Docker's structs have ints). */
function basicEq(a: unknown, b: unknown): boolean {
  if (a == null || b == null) return a == null && b == null;
  if (isNum(a) && isNum(b)) return typeof a === typeof b ? a === b : Number(a) === Number(b);
  if (typeof a === "object" || typeof b === "object") throw new FnError("invalid type for comparison");
  if (typeof a !== typeof b) throw new FnError("incompatible types for comparison");
  return a === b;
}

function less(a: unknown, b: unknown): boolean {
  if (isNum(a) && isNum(b)) return Number(a) < Number(b) || (typeof a === "bigint" && typeof b === "bigint" && a < b);
  if (typeof a === "string" && typeof b === "string") return a < b;
  const ordered = (v: unknown) => isNum(v) || typeof v === "string";
  throw new FnError(ordered(a) && ordered(b) ? "incompatible types for comparison" : "invalid type for comparison");
}

/** fmt.Sprint: a space between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  return args.map((a, i) => (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string" ? " " : "") + fmtV(a)).join("");
}

/** html, js and urlquery take one string as is, or Sprint their arguments. */
const joinArgs = (a: unknown[]) => (a.length === 1 && typeof a[0] === "string" ? a[0] : sprint(a));

const HTML_ESC: Record<string, string> = { "&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\0": "\uFFFD" };
const JS_ESC: Record<string, string> = { "\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D" };

function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (JS_ESC[ch]) out += JS_ESC[ch];
    else if (c < 0x20 || (c >= 0x80 && !isPrint(ch))) out += `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`;
    else out += ch;
  }
  return out;
}

/** url.QueryEscape: unreserved bytes kept, space as "+", the rest %XX. */
function queryEscape(s: string): string {
  let out = "";
  for (const b of utf8(s)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : b === 0x20 ? "+" : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** strings.Title: upper-case every letter that starts a word. */
function title(s: string): string {
  const isSep = (ch: string) =>
    ch.charCodeAt(0) < 0x80 ? !/[A-Za-z0-9_]/.test(ch) : /[\p{L}\p{N}]/u.test(ch) ? false : /\s/u.test(ch);
  let out = "";
  let prev = " ";
  for (const ch of s) {
    out += isSep(prev) ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

/** [min args, max args, implementation]; and/or are evaluated lazily in Exec.call. */
const FUNCS: Record<string, [number, number, (a: unknown[]) => unknown]> = {
  and: [1, Infinity, () => undefined],
  or: [1, Infinity, () => undefined],
  not: [1, 1, ([a]) => !truth(a)],
  len: [1, 1, ([a]) => BigInt(length(a))],
  index: [1, Infinity, ([a, ...keys]) => keys.reduce(index, a)],
  slice: [1, 4, ([a, ...idx]) => slice(a, idx)],
  eq: [1, Infinity, ([a, ...rest]) => {
    if (!rest.length) throw new FnError("missing argument for comparison");
    return rest.some((b) => basicEq(a, b));
  }],
  ne: [2, 2, ([a, b]) => !basicEq(a, b)],
  lt: [2, 2, ([a, b]) => less(a, b)],
  le: [2, 2, ([a, b]) => less(a, b) || basicEq(a, b)],
  gt: [2, 2, ([a, b]) => !less(a, b) && !basicEq(a, b)],
  ge: [2, 2, ([a, b]) => !less(a, b)],
  print: [0, Infinity, (a) => sprint(a)],
  println: [0, Infinity, (a) => `${a.map(fmtV).join(" ")}\n`],
  printf: [1, Infinity, ([f, ...a]) => sprintf(str(f), a)],
  html: [0, Infinity, (a) => joinArgs(a).replace(/[&'<>"\0]/g, (c) => HTML_ESC[c]!)],
  js: [0, Infinity, (a) => jsEscape(joinArgs(a))],
  urlquery: [0, Infinity, (a) => queryEscape(joinArgs(a))],
  // The Docker CLI's (cli/templates): json has no HTML escaping and no trailing newline.
  json: [1, 1, ([v]) =>
    (JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? Number(x) : x)) ?? "null")
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029")],
  split: [2, 2, ([s, sep]) => (str(sep) === "" ? [...str(s)] : str(s).split(str(sep)))],
  join: [2, 2, ([l, sep]) => {
    if (!Array.isArray(l)) throw new FnError(l == null ? "invalid value; expected []string" : `wrong type for value; expected []string; got ${typeName(l)}`, true);
    return l.map(fmtV).join(str(sep));
  }],
  title: [1, 1, ([s]) => title(str(s))],
  lower: [1, 1, ([s]) => str(s).toLowerCase()],
  upper: [1, 1, ([s]) => str(s).toUpperCase()],
  pad: [3, 3, ([s, l, r]) => (str(s) === "" ? "" : " ".repeat(Math.max(0, int(l))) + str(s) + " ".repeat(Math.max(0, int(r))))],
  truncate: [2, 2, ([s, n]) => [...str(s)].slice(0, Math.max(0, int(n))).join("")],
};
