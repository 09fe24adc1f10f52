// The compose loader's text stages: variable substitution and dotenv files.
import { describe, expect, test } from "vitest";
import { substitute, unsetWarning } from "../core/compose/loader/interpolate.ts";
import { parseDotenv } from "../core/compose/loader/dotenv.ts";

const ENV: Record<string, string> = { A: "x", EMPTY: "", B: "y", A_B: "ab" };
const lookup = (k: string) => ENV[k];

function sub(text: string) {
  const missing: string[] = [];
  const out = substitute(text, lookup, (n) => missing.push(n));
  return { out, missing };
}

describe("interpolation", () => {
  test.each([
    ["${A}", "x"],
    ["$A", "x"],
    ["pre-${A}-post", "pre-x-post"],
    ["$A_B", "ab"],
    ["${A}_B", "x_B"],
    ["$A.txt", "x.txt"],
    ["${UNSET:-d}", "d"],
    ["${EMPTY:-d}", "d"],
    ["${A:-d}", "x"],
    ["${UNSET-d}", "d"],
    ["${EMPTY-d}", ""],
    ["${A:+alt}", "alt"],
    ["${EMPTY:+alt}", ""],
    ["${UNSET:+alt}", ""],
    ["${EMPTY+alt}", "alt"],
    ["${UNSET+alt}", ""],
    ["${EMPTY?fail}", ""],
    ["$$", "$"],
    ["$$A", "$A"],
    ["$${A}", "${A}"],
    ["a $$ b", "a $ b"],
    ["${UNSET:-${B}}", "y"],
    ["${UNSET:-${ALSO_UNSET:-z}}", "z"],
    ["${UNSET:-a-${B}-c}", "a-y-c"],
    ["${A:-${NOT_EVALUATED:?boom}}", "x"],
    ["${UNSET:-has spaces and : colons}", "has spaces and : colons"],
    ["no references", "no references"],
  ])("%s -> %s", (text, want) => {
    const r = sub(text);
    expect(r.out).toBe(want);
    expect(r.missing).toEqual([]);
  });

  test("an unset variable without a default becomes empty and is reported", () => {
    expect(sub("a${NOPE}b$NOPE2")).toEqual({ out: "ab", missing: ["NOPE", "NOPE2"] });
    expect(unsetWarning("NOPE")).toBe('The "NOPE" variable is not set. Defaulting to a blank string.');
  });

  test.each([
    ["${UNSET:?please set it}", "required variable UNSET is missing a value: please set it"],
    ["${EMPTY:?must not be empty}", "required variable EMPTY is missing a value: must not be empty"],
    ["${UNSET?}", "required variable UNSET is missing a value"],
    ["${UNSET:?need ${B}}", "required variable UNSET is missing a value: need y"],
  ])("%s fails: %s", (text, message) => {
    expect(() => sub(text)).toThrow(message);
  });

  test.each(["${", "${A", "${}", "${1A}", "$1", "cost: 5$", "${A!x}"])("malformed %s is an error", (text) => {
    expect(() => sub(text)).toThrow("invalid interpolation format");
  });
});

describe("dotenv", () => {
  test("Docker Compose's syntax", () => {
    const text = [
      "# a comment",
      "",
      "A=1",
      "export B=2",
      "  C = spaced  ",
      "D='single $A \\n kept'",
      'E="double ${A} \\n\\t\\"q\\" \\$A"',
      "F=${A}-unquoted",
      "G=value # inline comment",
      "H=value#not-a-comment",
      'I="multi',
      'line"',
      "J=",
      "K=a=b",
      "L='multi",
      "single'",
      "M: colon form",
      "N=$B$A",
    ].join("\n");
    expect(parseDotenv(text, ".env")).toEqual({
      A: "1",
      B: "2",
      C: "spaced",
      D: "single $A \\n kept",
      E: 'double 1 \n\t"q" $A',
      F: "1-unquoted",
      G: "value",
      H: "value#not-a-comment",
      I: "multi\nline",
      J: "",
      K: "a=b",
      L: "multi\nsingle",
      M: "colon form",
      N: "21",
    });
  });

  test("the process environment is consulted first for references; a bare KEY takes its value", () => {
    const env: Record<string, string> = { A: "from-env", BARE: "bare-value" };
    expect(parseDotenv("A=file\nB=${A}\nBARE\nGONE\n", ".env", (k) => env[k])).toEqual({ A: "file", B: "from-env", BARE: "bare-value" });
  });

  test.each([
    ['A="open', ".env:1: unterminated quoted value for A"],
    ["A=1\n=2", ".env:2: invalid line"],
    ["A=1\nB 2", '.env:2: invalid line "B 2": expected "=" after B'],
    ["A='x' trailing", ".env:1: unexpected characters after the quoted value of A"],
    ['A="x\ny"\nB=${', ".env:3: invalid interpolation format"],
  ])("%j fails: %s", (text, message) => {
    expect(() => parseDotenv(text, ".env")).toThrow(message);
  });
});
