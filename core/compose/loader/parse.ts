// YAML text -> plain JS values, each remembering the file:line:col it was
// written at (see positions.ts). We walk the yaml package's document nodes
// ourselves instead of calling toJS(): that is where the positions are, and it
// lets anchors be copied (not shared), `<<` merge keys be applied, and the
// !reset / !override tags be kept for the merge stage.
import type * as Yaml from "yaml";
import type { Document, Node, ScalarTag } from "yaml";
import type { Position } from "../model.ts";
import { cloneValue, copyEntry, errorAt, setEntry } from "./positions.ts";

// The yaml package loads on first use: a parse-cache hit (parse-cache.ts)
// never needs it, and loading it costs ~3 ms.
let loaded: typeof Yaml | undefined;
const lib = () => (loaded ??= require("yaml") as typeof Yaml);
const isAlias = ((n) => lib().isAlias(n)) as typeof Yaml.isAlias;
const isMap = ((n) => lib().isMap(n)) as typeof Yaml.isMap;
const isScalar = ((n) => lib().isScalar(n)) as typeof Yaml.isScalar;
const isSeq = ((n) => lib().isSeq(n)) as typeof Yaml.isSeq;

/** YAML 1.1 octals (`mode: 0440`), which Docker Compose's YAML library still reads as octal. */
const octal: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  default: true,
  test: /^0[0-7]+$/,
  resolve: (s) => parseInt(s, 8),
};

/** Parse one compose file; `file` is the name used in positions and messages. */
export function parseYaml(text: string, file: string): Record<string, unknown> {
  const lines = new (lib().LineCounter)();
  const doc = lib().parseDocument(text, { merge: true, lineCounter: lines, customTags: (tags) => [octal, ...tags] });
  const at = (offset: number): Position => ({ file, ...lines.linePos(offset) });
  const first = doc.errors[0];
  if (first) {
    const pos = at(first.pos[0]);
    if (first.code === "MULTIPLE_DOCS") throw errorAt(pos, "a compose file holds one YAML document, this one has several", "remove the `---` separator or split the file");
    if (first.code === "DUPLICATE_KEY") throw errorAt(pos, `duplicate key ${JSON.stringify(keyAt(text, first.pos[0]))}`, "each key may appear once in a mapping");
    throw errorAt(pos, first.message.split(" at line ")[0]!);
  }
  if (doc.contents === null) throw errorAt({ file, line: 1, col: 1 }, "the compose file is empty", "define at least `services:`");
  if (!isMap(doc.contents)) throw errorAt(at(doc.contents.range[0]), "the top level of a compose file must be a mapping (services:, networks:, ...)");
  return convert(doc.contents, doc, at) as Record<string, unknown>;
}

function keyAt(text: string, offset: number): string {
  return /^[^:\n]*/.exec(text.slice(offset))![0].trim();
}

function convert(node: Node | null, doc: Document, at: (offset: number) => Position): unknown {
  if (node === null) return null;
  if (isAlias(node)) return cloneValue(convert(node.resolve(doc) ?? null, doc, at));
  if (isScalar(node)) return node.value;
  if (isSeq(node)) {
    const out: unknown[] = [];
    node.items.forEach((item, i) => {
      const n = item as Node | null;
      out.push(convert(n, doc, at));
      setEntry(out, i, { value: at(n?.range?.[0] ?? node.range![0]), tag: n?.tag });
    });
    return out;
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    const merged: Record<string, unknown>[] = [];
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      const value = pair.value as Node | null;
      if (!isScalar(key)) throw errorAt(at(key?.range?.[0] ?? node.range![0]), "mapping keys must be plain strings");
      const keyPos = at(key.range![0]);
      if (typeof key.value === "symbol") {
        // `<<: *base` or `<<: [*a, *b]`: copied in after the explicit keys, which win.
        const sources = isSeq(value) ? value.items : [value];
        for (const s of sources) {
          const m = convert(s as Node, doc, at);
          if (typeof m !== "object" || m === null || Array.isArray(m)) throw errorAt(keyPos, "a `<<` merge key takes a mapping or a list of mappings");
          merged.push(m as Record<string, unknown>);
        }
        continue;
      }
      const k = String(key.value ?? "");
      out[k] = convert(value, doc, at);
      setEntry(out, k, { key: keyPos, value: value?.range ? at(value.range[0]) : keyPos, tag: value?.tag });
    }
    for (const m of merged) {
      for (const k of Object.keys(m)) {
        if (k in out) continue;
        out[k] = m[k];
        copyEntry(m, k, out, k);
      }
    }
    return out;
  }
  throw errorAt(at((node as Node).range?.[0] ?? 0), "unsupported YAML node");
}
