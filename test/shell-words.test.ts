// Variable substitution and word splitting, case tables after buildkit's
// shell/envVarTest, shell/wordsTest and lex_test.go.
import { describe, expect, test } from "vitest";
import { isKind } from "../core/errors.ts";
import { expandWord, expandWords, lex, parseKeyValues, splitKeyValues, type Env } from "../core/build/shell-words.ts";

const env = (o: Record<string, string>): Env => new Map(Object.entries(o));
const ERROR = Symbol("error");

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

describe("expandWord: buildkit's envVarTest table", () => {
  const vars = env({ PWD: "/home", SHELL: "bash", KOREAN: "한국어", NULL: "" });
  const cases: [string, string | typeof ERROR][] = [
    ["hello", "hello"],
    ["he'll'o", "hello"],
    ["he'llo", ERROR],
    ["he\\'llo", "he'llo"],
    ["he\\\\'llo", ERROR],
    ["abc\\tdef", "abctdef"],
    ['"abc\\tdef"', "abc\\tdef"],
    ['"abc\\\\tdef"', "abc\\tdef"],
    ["'abc\\tdef'", "abc\\tdef"],
    ["hello\\", "hello"],
    ["hello\\\\", "hello\\"],
    ['"hello', ERROR],
    ['"hello\\"', ERROR],
    ['"hel\'lo"', "hel'lo"],
    ["'hello", ERROR],
    ["'hello\\'", "hello\\"],
    ["'hello\\there'", "hello\\there"],
    ["'hello\\\\there'", "hello\\\\there"],
    ['"\'\'"', "''"],
    ["$.", "$."],
    ["he$1x", "hex"],
    ["he$.x", "he$.x"],
    ["he$pwd.", "he."],
    ["he$PWD", "he/home"],
    ["he\\$PWD", "he$PWD"],
    ["he\\\\$PWD", "he\\/home"],
    ['"he\\$PWD"', "he$PWD"],
    ['"he\\\\$PWD"', "he\\/home"],
    ["\\${}", "${}"],
    ["\\${}aaa", "${}aaa"],
    ["he\\${}", "he${}"],
    ["he\\${}xx", "he${}xx"],
    ["${}", ERROR],
    ["${}aaa", ERROR],
    ["he${}", ERROR],
    ["he${}xx", ERROR],
    ["he${hi}", "he"],
    ["he${hi}xx", "hexx"],
    ["he${PWD}", "he/home"],
    ["he${.}", ERROR],
    ["he${XXX:-000}xx", "he000xx"],
    ["he${PWD:-000}xx", "he/homexx"],
    ["he${XXX:-$PWD}xx", "he/homexx"],
    ["he${XXX:-${PWD:-yyy}}xx", "he/homexx"],
    ["he${XXX:-${YYY:-yyy}}xx", "heyyyxx"],
    ["he${XXX:YYY}", ERROR],
    ["he${XXX?}", ERROR],
    ["he${XXX:?}", ERROR],
    ["he${PWD?}", "he/home"],
    ["he${PWD:?}", "he/home"],
    ["he${NULL?}", "he"],
    ["he${NULL:?}", ERROR],
    ["he${XXX:+${PWD}}xx", "hexx"],
    ["he${PWD:+${XXX}}xx", "hexx"],
    ["he${PWD:+${SHELL}}xx", "hebashxx"],
    ["he${XXX:+000}xx", "hexx"],
    ["he${PWD:+000}xx", "he000xx"],
    ["'he${XX}'", "he${XX}"],
    ['"he${PWD}"', "he/home"],
    ['"he\'$PWD\'"', "he'/home'"],
    ['"$PWD"', "/home"],
    ["'$PWD'", "$PWD"],
    ["'\\$PWD'", "\\$PWD"],
    ["'\"hello\"'", '"hello"'],
    ["'he\\$PWD'", "he\\$PWD"],
    ["he${PWD", ERROR],
    ["he${PWD=000}xx", ERROR],
    ["he${PWD+000}xx", "he000xx"],
    ["he${PWD-000}xx", "he/homexx"],
    ["he${XXX=000}xx", ERROR],
    ["he${XXX+000}xx", "hexx"],
    ["he${XXX-000}xx", "he000xx"],
    ["he${NULL-000}xx", "hexx"],
    ["he${NULL:-000}xx", "he000xx"],
    ["he${NULL+000}xx", "he000xx"],
    ["he${NULL:+000}xx", "hexx"],
    ["${KOREAN}", "한국어"],
    ["한국어${KOREAN}", "한국어한국어"],
    ["$KOREAN", "한국어"],
    ["${PWD}${SHELL}", "/homebash"],
    ["$PWD$SHELL", "/homebash"],
    ["$$", ""],
    ["$", "$"],
    ["a<b", "a<b"],
  ];
  test.each(cases)("%s", (input, want) => {
    if (want === ERROR) {
      const err = thrown(() => expandWord(input, vars));
      expect(isKind(err, "InvalidArgument")).toBe(true);
      expect(err.message).toContain(`failed to process ${JSON.stringify(input)}`);
    } else {
      expect(expandWord(input, vars)).toBe(want);
    }
  });
});

describe("expandWord: modifiers (lex_test.go TestProcessWithMatches)", () => {
  const cases: [string, Record<string, string>, string | typeof ERROR][] = [
    ["x", { DUMMY: "dummy" }, "x"],
    ["x ${UNUSED}", { DUMMY: "dummy" }, "x "],
    ["x ${FOO}", { FOO: "y" }, "x y"],
    ["${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", { FOO: "xxx", BAR: "" }, "xxx  ccc"],
    ["${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", { FOO: "xxx", BAR: "" }, "xxx bbb ccc"],
    ["${FOO:-}", { FOO: "xxx", BAR: "" }, "xxx"],
    ["${FOO:-}", {}, ""],
    ["${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", { FOO: "xxx", BAR: "" }, "aaa bbb "],
    ["${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", { FOO: "xxx", BAR: "" }, "aaa  "],
    ["${FOO?aaa}", { FOO: "xxx", BAR: "" }, "xxx"],
    ["${BAR?bbb}", { FOO: "xxx", BAR: "" }, ""],
    ["${BAZ?ccc}", { FOO: "xxx", BAR: "" }, ERROR],
    ["${FOO:?aaa}", { FOO: "xxx", BAR: "" }, "xxx"],
    ["${BAR:?bbb}", { FOO: "xxx", BAR: "" }, ERROR],
    ["${BAZ:?ccc}", { FOO: "xxx", BAR: "" }, ERROR],
    ["${BAZ:?}", { FOO: "xxx", BAR: "" }, ERROR],
    ["${FOO=aaa}", { FOO: "xxx", BAR: "" }, ERROR],
    ["${FOO=:aaa}", { FOO: "xxx", BAR: "" }, ERROR],
    ["${FOO=}", {}, ERROR],
    ["${FOO#()[]{\\}^$.\\*\\?|\\\\}", { FOO: "()[]{}^$.*?|\\x" }, "x"],
    ["${FOO%%\\**}", { FOO: "xx**" }, "xx"],
    ["${FOO#*x*y}", { FOO: "xxyy" }, "y"],
    ["${FOO#*}", { FOO: "xxyy" }, "xxyy"],
    ["${FOO#$BAR}", { FOO: "xxyy", BAR: "x" }, "xyy"],
    ["${FOO#$BAR}", { FOO: "xxyy", BAR: "" }, "xxyy"],
    ["${FOO#}", { FOO: "xxyy" }, "xxyy"],
    ["${FOO##*x}", { FOO: "xxyy" }, "yy"],
    ["${FOO##}", { FOO: "xxyy" }, "xxyy"],
    ["${FOO#?\\?}", { FOO: "???y" }, "?y"],
    ["${ABC:-.}${FOO%x}${ABC:-.}", { FOO: "xxyy" }, ".xxyy."],
    ["${FOO%%\\**\\*}", { FOO: "a***yy*" }, "a"],
    ["${FOO%}", { FOO: "xxyy" }, "xxyy"],
    ["${FOO%%$BAR}", { FOO: "xxyy", BAR: "" }, "xxyy"],
    ["${FOO%y}", { FOO: "xxyy" }, "xxy"],
    ["${FOO%%y*}", { FOO: "xxyy" }, "xx"],
    ["${FOO%y*}", { FOO: "xxyy" }, "xxy"],
    ["${FOO#\\x}", { FOO: "xxyy" }, ERROR],
    ["${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", { FOO: "/foo*/*/*.txt", NEEDLE: "\\*/" }, "/foo.*/*.txt - /foo..*.txt"],
    ["${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", { FOO: "/tmp/tmp/bar.txt", NEEDLE: "/tmp" }, "/tmp/bar.txt - /bar.txt"],
    ["${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}", { FOO: "/a/foo/b/c.txt", NEEDLE: "/?/", REPLACEMENT: "/" }, "/foo/b/c.txt - /foo/c.txt"],
    ["${FOO/$NEEDLE/$REPLACEMENT}", { FOO: "http://google.de", NEEDLE: "http://", REPLACEMENT: "https://" }, "https://google.de"],
    ["${FOO//\\//\\/}", { FOO: "/tmp/foo.txt" }, "\\/tmp\\/foo.txt"],
    ["${FOO/$BAR/ww}", { FOO: "xxyy", BAR: "" }, "wwxxyy"],
    ["${FOO/x/$$}", { FOO: "xxyy" }, "xyy"],
    ["${FOO//ww}", { FOO: "xxyy" }, ERROR],
    ["${FOO//}", { FOO: "xxyy" }, ERROR],
    ["${FOO///}", { FOO: "xxyy" }, "xxyy"],
    ["${FOO///}", {}, ""],
  ];
  test.each(cases)("%s with %j", (input, vars, want) => {
    if (want === ERROR) expect(() => expandWord(input, env(vars))).toThrow(/failed to process/);
    else expect(expandWord(input, env(vars))).toBe(want);
  });

  test("a release file name built from platform ARGs", () => {
    const word = "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    const vars = { VERSION: "v1.2.3", TARGETOS: "linux", TARGETARCH: "arm" };
    expect(expandWord(word, env({ ...vars, TARGETVARIANT: "v7" }))).toBe("something-v1.2.3.linux-arm-v7.tar.gz");
    expect(expandWord(word, env(vars))).toBe("something-v1.2.3.linux-arm.tar.gz");
  });
});

describe("required variables: ${VAR:?msg} and ${VAR?msg}", () => {
  const set = env({ VAR: "plain", ARG: "x" });
  const empty = env({ VAR: "", ARG: "x" });
  const unset = env({ ARG: "x" });
  test("set, empty and unset", () => {
    expect(expandWord("${VAR:?message here$ARG}", set)).toBe("plain");
    expect(() => expandWord("${VAR:?message here$ARG}", empty)).toThrow("VAR: message herex");
    expect(() => expandWord("${VAR:?message here$ARG}", unset)).toThrow("VAR: message herex");
    expect(expandWord("${VAR?message here$ARG}", set)).toBe("plain");
    expect(expandWord("${VAR?message here$ARG}", empty)).toBe("");
    expect(() => expandWord("${VAR?message here$ARG}", unset)).toThrow("VAR: message herex");
  });
  test("default messages as Docker words them", () => {
    expect(() => expandWord("${VAR?}", unset)).toThrow("VAR: is not allowed to be unset");
    expect(() => expandWord("${VAR:?}", empty)).toThrow("VAR: is not allowed to be empty");
  });
  test("the error names where it happened and is InvalidArgument", () => {
    const err = thrown(() => expandWord("${TAG:?set TAG}", unset, "\\", "Dockerfile:7"));
    expect(err.message).toBe('Dockerfile:7: failed to process "${TAG:?set TAG}": TAG: set TAG');
    expect(isKind(err, "InvalidArgument")).toBe(true);
  });
});

describe("expandWords: buildkit's wordsTest table", () => {
  const cases: [string, Record<string, string>, string[] | typeof ERROR][] = [
    ["hello", {}, ["hello"]],
    ["hello${hi}bye", {}, ["hellobye"]],
    ["hello${hi}bye", { hi: "hi" }, ["hellohibye"]],
    ["hello${space}bye", { space: "abc  def" }, ["helloabc", "defbye"]],
    ['hello"${space}"bye', { space: "abc  def" }, ["helloabc  defbye"]],
    ['hello "${space}"bye', { space: "abc  def" }, ["hello", "abc  defbye"]],
    ["hello${leading}def", { leading: "  ab   c" }, ["hello", "ab", "cdef"]],
    ['hello"${leading}" def', { leading: "  ab   c" }, ["hello  ab   c", "def"]],
    ['hello"${leading}"', { leading: "  ab   c" }, ["hello  ab   c"]],
    ["hello${leading}", { leading: "  ab   c" }, ["hello", "ab", "c"]],
    ["hello${trailing}", { trailing: "ab   c   " }, ["helloab", "c"]],
    ["hello${trailing}d", { trailing: "ab   c   " }, ["helloab", "c", "d"]],
    ['hello"${trailing}"d', { trailing: "ab   c   " }, ["helloab   c   d"]],
    ['hel"lo${trailing}"', { trailing: "ab   c   " }, ["helloab   c   "]],
    ['hello" there  "', {}, ["hello there  "]],
    ["hello there     ", {}, ["hello", "there"]],
    ["hello\\ there", {}, ["hello there"]],
    ['hello" there', {}, ERROR],
    ['hello\\" there', {}, ['hello"', "there"]],
    ['hello"\\\\there"', {}, ["hello\\there"]],
    ['hello"\\there"', {}, ["hello\\there"]],
    ["hello'\\\\there'", {}, ["hello\\\\there"]],
    ["hello'\\there'", {}, ["hello\\there"]],
    ["hello'$there'", {}, ["hello$there"]],
    // Docker drops empty words, even quoted ones.
    ['a "" b', {}, ["a", "b"]],
    ["80/tcp $PORTS", { PORTS: "443 8080/udp" }, ["80/tcp", "443", "8080/udp"]],
    ["\t a \t b \t", {}, ["a", "b"]],
  ];
  test.each(cases)("%s with %j", (input, vars, want) => {
    if (want === ERROR) expect(() => expandWords(input, env(vars))).toThrow(/unexpected end of statement/);
    else expect(expandWords(input, env(vars))).toEqual(want);
  });
});

describe("the escape directive's backtick", () => {
  const vars = env({ X: "1" });
  test.each([
    ["a\\$X", "a\\1"],
    ["a`$X", "a$X"],
    ['"a`"b"', 'a"b'],
    ['"a\\"b"', "error"],
    ["C:\\dir\\$X", "C:\\dir\\1"],
    ["a``b", "a`b"],
  ])("%s", (input, want) => {
    if (want === "error") expect(() => expandWord(input, vars, "`")).toThrow();
    else expect(expandWord(input, vars, "`")).toBe(want);
  });
});

describe("lex options the Dockerfile parser and builder use", () => {
  test("raw mode keeps quotes, escapes and unset references", () => {
    const r = lex(`RUN <<'EOF' "a b" \\x $UNSET`, new Map(), { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
    expect(r.words).toEqual(["RUN", "<<'EOF'", '"a b"', "\\x", "$UNSET"]);
  });
  test("<< keeps the blanks after it in its word", () => {
    expect(lex("cat << EOF > out", new Map()).words).toEqual(["cat", "<< EOF", ">", "out"]);
  });
  test("skipProcessQuotes leaves quotes to the shell (heredoc bodies)", () => {
    expect(lex(`echo "$A" '$A'`, env({ A: "x" }), { skipProcessQuotes: true }).word).toBe(`echo "x" 'x'`);
  });
  test("skipUnsetEnv keeps modifiers of unset variables", () => {
    expect(lex("${A:-d} ${B}", new Map(), { skipUnsetEnv: true }).word).toBe("${A:-d} ${B}");
  });
});

describe("parseKeyValues: ENV, LABEL, ARG", () => {
  const where = "Dockerfile:4";
  const kv = (text: string, instruction: "env" | "label" | "arg", vars: Record<string, string> = {}, escape?: string) =>
    parseKeyValues(text, env(vars), { instruction, where, escape });

  test.each([
    ["a=1 b=\"x y\" c=$a", { a: "old" }, [["a", "1"], ["b", "x y"], ["c", "old"]]],
    ["foo bar baz", {}, [["foo", "bar baz"]]],
    ['foo "bar  baz"', {}, [["foo", "bar  baz"]]],
    ["PATH\t/usr/local/go/bin:$PATH", { PATH: "/bin" }, [["PATH", "/usr/local/go/bin:/bin"]]],
    ["DOCKER_CROSSPLATFORMS\tlinux/386 linux/arm \tdarwin/amd64", {}, [["DOCKER_CROSSPLATFORMS", "linux/386 linux/arm \tdarwin/amd64"]]],
    ["a=x\\ y", {}, [["a", "x y"]]],
    ["a= b=''", {}, [["a", ""], ["b", ""]]],
    ["$K=v", { K: "key" }, [["key", "v"]]],
    ["a=b=c", {}, [["a", "b=c"]]],
    ["a='$HOME' b=\"$HOME\"", { HOME: "/root" }, [["a", "$HOME"], ["b", "/root"]]],
    ["a=${X:-def}", {}, [["a", "def"]]],
  ])("ENV %s", (text, vars, want) => {
    expect(kv(text, "env", vars).map((p) => [p.key, p.value])).toEqual(want);
  });

  test.each([
    ['"com.example.vendor"="ACME Inc"', [["com.example.vendor", "ACME Inc"]]],
    ['multi.label1="value1" multi.label2="value2" other="value3"', [["multi.label1", "value1"], ["multi.label2", "value2"], ["other", "value3"]]],
    ["maintainer\tTianon Gravi <admwiggin@gmail.com> (@tianon)", [["maintainer", "Tianon Gravi <admwiggin@gmail.com> (@tianon)"]]],
  ])("LABEL %s", (text, want) => {
    expect(kv(text, "label").map((p) => [p.key, p.value])).toEqual(want);
  });

  test("ARG takes bare names (value undefined) and empty values", () => {
    expect(kv("a b=2 c= d=$b", "arg", { b: "x" })).toEqual([
      { key: "a", value: undefined },
      { key: "b", value: "2" },
      { key: "c", value: "" },
      { key: "d", value: "x" },
    ]);
  });

  test("the backtick escape", () => {
    expect(kv("a=x` y", "env", {}, "`")).toEqual([{ key: "a", value: "x y" }]);
  });

  test.each([
    ["", "env", "Dockerfile:4: ENV requires at least one argument"],
    ["foo", "env", "Dockerfile:4: ENV must have two arguments"],
    ["foo", "label", "Dockerfile:4: LABEL must have two arguments"],
    ["=x", "env", "Dockerfile:4: ENV names can not be blank"],
    ["=x", "label", "Dockerfile:4: LABEL names can not be blank"],
    ["=x", "arg", "Dockerfile:4: ARG names can not be blank"],
    ["a=1 b", "env", `Dockerfile:4: Syntax error - can't find = in "b". Must be of the form: name=value`],
    ["=a b", "env", `Dockerfile:4: Syntax error - can't find = in "b". Must be of the form: name=value`],
    ['a="open', "env", `Dockerfile:4: failed to process "\\"open": unexpected end of statement while looking for matching double-quote`],
    ["a=${X:?need_X}", "env", `Dockerfile:4: failed to process "\${X:?need_X}": X: need_X`],
    // Docker cuts the words before expanding: an unquoted space splits ${...} too.
    ["a=${X:?need X}", "env", `Dockerfile:4: Syntax error - can't find = in "X}". Must be of the form: name=value`],
  ] as const)("error: %s (%s)", (text, instruction, message) => {
    const err = thrown(() => kv(text, instruction));
    expect(err.message).toBe(message);
    expect(isKind(err, "InvalidArgument")).toBe(true);
  });

  test("splitKeyValues keeps quotes and references for later expansion", () => {
    expect(splitKeyValues('a="x $Y" b', { instruction: "arg", where })).toEqual([
      { key: "a", value: '"x $Y"' },
      { key: "b", value: undefined },
    ]);
  });
});
