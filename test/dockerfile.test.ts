// The Dockerfile parser, with cases after buildkit's parser tests (testfiles,
// parser_test.go, parser_heredoc_test.go, directives_test.go) and the checks
// of instructions/parse.go.
import { describe, expect, test } from "vitest";
import { isKind } from "../core/errors.ts";
import { parseDockerfile, type Instruction } from "../core/build/dockerfile.ts";
import { parseKeyValues } from "../core/build/shell-words.ts";

const parse = (text: string) => parseDockerfile(text);
/** The instructions after the leading FROM. */
const steps = (body: string) => parse(`FROM scratch\n${body}`).instructions.slice(1);
const one = (body: string) => steps(body)[0]!;
const dump = (i: Instruction) => [i.cmd, ...i.args];

function hintOf(text: string): string | undefined {
  try {
    parseDockerfile(text);
  } catch (err) {
    return (err as { hint?: string }).hint;
  }
  throw new Error("expected a parse error");
}

function failure(text: string, file?: string): string {
  try {
    parseDockerfile(text, file);
  } catch (err) {
    expect(isKind(err, "InvalidArgument")).toBe(true);
    return (err as Error).message;
  }
  throw new Error("expected a parse error");
}

describe("a realistic file (after buildkit's testfiles/docker)", () => {
  const text = [
    "# How this image is built",
    "#",
    "",
    "FROM\tubuntu:24.04",
    "LABEL\tmaintainer\tJane Doe <jane@example.com> (@jane)",
    "",
    "# Packages",
    "RUN\tapt-get update && apt-get install -yq \\",
    "\tcurl \\",
    "\tgit \\",
    "\t--no-install-recommends",
    "ENV\tPATH\t/usr/local/go/bin:$PATH",
    "ENV\tPLATFORMS\t\\",
    "\tlinux/386 linux/arm \\",
    "\tdarwin/amd64",
    "RUN\tbash -xc 'for p in $PLATFORMS; do GOOS=${p%/*} GOARCH=${p##*/} ./make.bash; done'",
    "RUN\t/bin/echo -e '[default]\\naccess_key=$KEY' > /.s3cfg",
    "VOLUME\t/var/lib/docker",
    "WORKDIR\t/go/src/app",
    'ENTRYPOINT\t["hack/dind"]',
    "COPY\t.\t/go/src/app",
  ].join("\n");
  const df = parse(text);

  test("instructions and their arguments", () => {
    expect(df.instructions.map(dump)).toEqual([
      ["from", "ubuntu:24.04"],
      ["label", "maintainer\tJane Doe <jane@example.com> (@jane)"],
      ["run", "apt-get update && apt-get install -yq \tcurl \tgit \t--no-install-recommends"],
      ["env", "PATH\t/usr/local/go/bin:$PATH"],
      ["env", "PLATFORMS\t\tlinux/386 linux/arm \tdarwin/amd64"],
      ["run", "bash -xc 'for p in $PLATFORMS; do GOOS=${p%/*} GOARCH=${p##*/} ./make.bash; done'"],
      ["run", "/bin/echo -e '[default]\\naccess_key=$KEY' > /.s3cfg"],
      ["volume", "/var/lib/docker"],
      ["workdir", "/go/src/app"],
      ["entrypoint", "hack/dind"],
      ["copy", ".", "/go/src/app"],
    ]);
    expect(df.instructions.map((i) => i.json)).toEqual([false, false, false, false, false, false, false, false, false, true, false]);
  });
  test("line ranges", () => {
    expect(df.instructions.map((i) => [i.line, i.endLine])).toEqual([
      [4, 4], [5, 5], [8, 11], [12, 12], [13, 15], [16, 16], [17, 17], [18, 18], [19, 19], [20, 20], [21, 21],
    ]);
  });
  test("the legacy ENV and LABEL forms expand as Docker does", () => {
    const where = "Dockerfile:5";
    expect(parseKeyValues(df.instructions[1]!.args[0]!, new Map(), { instruction: "label", where })).toEqual([
      { key: "maintainer", value: "Jane Doe <jane@example.com> (@jane)" },
    ]);
    expect(parseKeyValues(df.instructions[4]!.args[0]!, new Map(), { instruction: "env", where })).toEqual([
      { key: "PLATFORMS", value: "linux/386 linux/arm \tdarwin/amd64" },
    ]);
  });
  test("original keeps the joined line", () => {
    expect(df.instructions[2]!.original).toBe("RUN\tapt-get update && apt-get install -yq \tcurl \tgit \t--no-install-recommends");
  });
  test("no directives: default escape, no syntax", () => {
    expect(df.escape).toBe("\\");
    expect(df.syntax).toBeUndefined();
  });
});

describe("HEALTHCHECK (after buildkit's testfiles/health)", () => {
  test.each([
    ["HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\\n  CMD /app/check.sh --quiet", ["CMD", "/app/check.sh --quiet"], false, { interval: ["5s"], timeout: ["3s"], retries: ["3"] }],
    ["HEALTHCHECK   CMD   a b", ["CMD", "a b"], false, {}],
    ['HEALTHCHECK --timeout=3s CMD ["foo"]', ["CMD", "foo"], true, { timeout: ["3s"] }],
    ['HEALTHCHECK --start-period=0s --interval=5s --timeout=0s --retries=0 CMD ["foo"]', ["CMD", "foo"], true, { "start-period": ["0s"], interval: ["5s"], timeout: ["0s"], retries: ["0"] }],
    ["HEALTHCHECK --start-interval=1s cmd curl -f http://localhost/", ["CMD", "curl -f http://localhost/"], false, { "start-interval": ["1s"] }],
    ["HEALTHCHECK NONE", ["NONE"], false, {}],
    ["healthcheck none", ["NONE"], false, {}],
  ])("%s", (line, args, json, flags) => {
    const i = one(line);
    expect(i.args).toEqual(args);
    expect(i.json).toBe(json);
    expect(i.flags).toEqual(flags);
  });
  test.each([
    ["HEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"],
    ["HEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD"],
    ["HEALTHCHECK CONNECT TCP 7000", 'Dockerfile:2: Unknown type "CONNECT" in HEALTHCHECK (try CMD)'],
    ["HEALTHCHECK NONE now", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"],
    ["HEALTHCHECK --every=5s CMD true", "Dockerfile:2: Unknown flag: every"],
  ])("%s", (line, message) => {
    expect(failure(`FROM scratch\n${line}`)).toBe(message);
  });
});

describe("parser directives", () => {
  test("escape=` makes the backtick the continuation character", () => {
    const df = parse("# escape=`\nFROM windows\nRUN dir c:\\ `\n  /s\nCOPY a\\ b c\\");
    expect(df.escape).toBe("`");
    expect(df.instructions.map(dump)).toEqual([["from", "windows"], ["run", "dir c:\\   /s"], ["copy", "a\\", "b", "c\\"]]);
  });
  test("with escape=` a trailing backslash does not continue", () => {
    const df = parse("# escape=`\nFROM x\nRUN a\\\nRUN b");
    expect(df.instructions.map(dump)).toEqual([["from", "x"], ["run", "a\\"], ["run", "b"]]);
  });
  test("keys are case-insensitive, spaces allowed around =", () => {
    expect(parse("#  EScape = `\nFROM x").escape).toBe("`");
  });
  test.each([
    ["after a comment", "# hello\n# escape=`\nFROM x"],
    ["after a blank line", "\n# escape=`\nFROM x"],
    ["after an instruction", "FROM x\n# escape=`\nRUN a"],
    ["after an unknown directive", "# key = FOO bar\n# escape=`\nFROM x"],
  ])("not a directive %s", (_, text) => {
    expect(parse(text).escape).toBe("\\");
  });
  test("syntax: the reference's first word, a #! line before it is allowed", () => {
    expect(parse("# syntax = docker/dockerfile:1 // opts\nFROM busybox").syntax).toBe("docker/dockerfile:1");
    expect(parse("#!/usr/bin/env buildctl\n# syntax=docker/dockerfile:1.7\nFROM busybox").syntax).toBe("docker/dockerfile:1.7");
    expect(parse("# escape=`\n# syntax=x\nFROM busybox").syntax).toBe("x");
    expect(parse("#!/bin/sh\n\n# syntax = x\nFROM busybox").syntax).toBeUndefined();
  });
  test.each([
    ["# escape=\\\n# escape=`\nFROM x", "Dockerfile:2: only one escape parser directive can be used"],
    ["# syntax=a\n# syntax=b\nFROM x", "Dockerfile:2: only one syntax parser directive can be used"],
    ["# escape=x\nFROM x", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"],
  ])("%j", (text, message) => {
    expect(failure(text)).toBe(message);
  });
});

describe("lines: comments, continuations, blanks, CRLF", () => {
  // After buildkit's TestParseWarnsOnEmptyContinutationLine.
  const df = parse(
    "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\nRUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\nRUN indented \\\n    # this is an indented comment\n    comment\n\t",
  );
  test("comment and blank lines inside an instruction are skipped; indentation stays", () => {
    expect(df.instructions.map((i) => i.original)).toEqual([
      "FROM alpine:3.6",
      "RUN valid     continuation",
      "RUN something     following     more",
      "RUN another     thing",
      "RUN non-indented    after-comment",
      "RUN indented     comment",
    ]);
    expect(df.instructions.map((i) => [i.line, i.endLine])).toEqual([[2, 2], [4, 5], [7, 11], [13, 15], [17, 19], [21, 23]]);
  });
  test.each([
    ["trailing blanks after the escape", "RUN a \\  \t\n  b", ["run", "a   b"]],
    ["an escaped escape does not continue", "RUN echo \\\\\nRUN b", ["run", "echo \\\\"]],
    ["a lone escape on its line continues", "RUN a\\\n\\\n b", ["run", "a b"]],
    ["continuation at the end of the file", "RUN a \\", ["run", "a"]],
    ["leading whitespace and comments before", "  # c\n   RUN  x ", ["run", "x"]],
    ["a # inside a line is no comment", "RUN echo # not a comment", ["run", "echo # not a comment"]],
    ["CRLF line endings", "RUN a \\\r\n  b\r\nRUN c\r\n", ["run", "a   b"]],
    ["lower and mixed case keywords", "rUn x", ["run", "x"]],
  ])("%s", (_, body, want) => {
    expect(dump(one(body))).toEqual(want);
  });
  test("CRLF files keep their line numbers", () => {
    const d = parse("FROM a\r\n\r\nRUN b \\\r\n c\r\nRUN d\r\n");
    expect(d.instructions.map((i) => [i.original, i.line, i.endLine])).toEqual([["FROM a", 1, 1], ["RUN b  c", 3, 4], ["RUN d", 5, 5]]);
  });
  test("a byte-order mark is dropped", () => {
    expect(parse("\uFEFF# escape=`\nFROM x").escape).toBe("`");
  });
});

describe("exec (JSON) form versus shell form", () => {
  test.each([
    ['CMD ["echo", "hi"]', ["echo", "hi"], true],
    ['CMD [ "a" ', ['[ "a"'], false],
    ["CMD []", [], true],
    ['ENTRYPOINT ["a"] extra', ['["a"] extra'], false],
    ["CMD [\"a\\\"b\", \"\\u00e9\"]", ['a"b', "é"], true],
    ["CMD ['single']", ["['single']"], false],
    ["CMD echo [a]", ["echo [a]"], false],
    ['RUN ["sh", "-c", \\\n  "echo"]', ["sh", "-c", "echo"], true],
    ["CMD", [], false],
    ['SHELL ["powershell", "-command"]', ["powershell", "-command"], true],
    ['VOLUME ["/a", "/b c"]', ["/a", "/b c"], true],
    ["VOLUME /a /b", ["/a", "/b"], false],
    ['COPY ["a b", "/dst/"]', ["a b", "/dst/"], true],
    ['COPY "a b" /dst/', ['"a', 'b"', "/dst/"], false],
  ])("%s", (line, args, json) => {
    const i = steps(line)[0]!;
    expect(i.args).toEqual(args);
    expect(i.json).toBe(json);
  });
  test.each([
    ['CMD ["a", 1]', "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"],
    ['COPY ["a", null]', "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"],
    ["SHELL /bin/bash -c", "Dockerfile:2: SHELL requires the arguments to be in JSON form"],
    ["SHELL []", "Dockerfile:2: SHELL requires at least one argument"],
    ['VOLUME [""]', "Dockerfile:2: VOLUME specified can not be an empty string"],
    ["VOLUME", "Dockerfile:2: VOLUME requires at least one argument"],
  ])("%s", (line, message) => {
    expect(failure(`FROM scratch\n${line}`)).toBe(message);
  });
});

describe("flags", () => {
  test.each([
    ["COPY --from=build --chown=1:2 --chmod=755 --link a /b", { from: ["build"], chown: ["1:2"], chmod: ["755"], link: [""] }, ["a", "/b"]],
    ["COPY --link=false --parents --exclude=*.md --exclude=*.txt . /b", { link: ["false"], parents: [""], exclude: ["*.md", "*.txt"] }, [".", "/b"]],
    ["ADD --checksum=sha256:abc --keep-git-dir=true https://x/y.git /src", { checksum: ["sha256:abc"], "keep-git-dir": ["true"] }, ["https://x/y.git", "/src"]],
    ["RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok --network=none make", { mount: ["type=cache,target=/root/.cache", "type=secret,id=tok"], network: ["none"] }, ["make"]],
    ['RUN --mount="type=bind,target=/x y" --security=insecure true', { mount: ["type=bind,target=/x y"], security: ["insecure"] }, ["true"]],
    ["RUN --network=host -- --looks-like-a-flag", { network: ["host"] }, ["--looks-like-a-flag"]],
    ["RUN ls --all", {}, ["ls --all"]],
    ["COPY --from=$STAGE /a /b", { from: ["$STAGE"] }, ["/a", "/b"]],
  ])("%s", (line, flags, args) => {
    const i = one(line);
    expect(i.flags).toEqual(flags);
    expect(i.args).toEqual(args);
  });
  test("FROM --platform", () => {
    const i = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS build").instructions[0]!;
    expect(i.flags).toEqual({ platform: ["$BUILDPLATFORM"] });
    expect(i.args).toEqual(["golang:1.22", "AS", "build"]);
  });
  test.each([
    ["COPY --form=x a b", "Dockerfile:3: Unknown flag: form"],
    ["RUN --chown=1 true", "Dockerfile:3: Unknown flag: chown"],
    ["CMD --help", "Dockerfile:3: Unknown flag: help"],
    ["ENV --x=1 a=b", "Dockerfile:3: Unknown flag: x"],
    ["COPY --from a b", "Dockerfile:3: Missing a value on flag: from"],
    ["COPY --link= a b", "Dockerfile:3: Missing a value on flag: link"],
    ["COPY --link=yes a b", "Dockerfile:3: Expecting boolean value for flag link, not: yes"],
    ["COPY --from=a --from=b c d", "Dockerfile:3: Duplicate flag specified: from"],
  ])("%s", (line, message) => {
    expect(failure(`FROM scratch\n\n${line}`)).toBe(message);
  });
  test("the hint lists what the instruction takes", () => {
    expect(hintOf("FROM a\nCOPY --nope x y")).toBe("COPY accepts --from, --chown, --chmod, --link, --parents, --exclude");
    expect(hintOf("FROM a\nUSER --nope x")).toBe("USER takes no flags");
  });
});

describe("FROM", () => {
  test.each([
    ["FROM alpine", ["alpine"]],
    ["FROM alpine AS build", ["alpine", "AS", "build"]],
    ["FROM alpine as Build", ["alpine", "AS", "build"]],
    ["from\talpine\tAs\tb-1.x_y", ["alpine", "AS", "b-1.x_y"]],
    ["FROM ${BASE:-alpine}:$TAG", ["${BASE:-alpine}:$TAG"]],
  ])("%s", (line, args) => {
    expect(parse(line).instructions[0]!.args).toEqual(args);
  });
  test.each([
    ["FROM", "Dockerfile:1: FROM requires either one or three arguments"],
    ["FROM a b", "Dockerfile:1: FROM requires either one or three arguments"],
    ["FROM a AS", "Dockerfile:1: FROM requires either one or three arguments"],
    ["FROM a IS b", "Dockerfile:1: FROM requires either one or three arguments"],
    ["FROM a AS b c", "Dockerfile:1: FROM requires either one or three arguments"],
    ["FROM a AS 1st", 'Dockerfile:1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols'],
    ["FROM a AS b@c", 'Dockerfile:1: invalid name for build stage: "b@c", name can\'t start with a number or contain symbols'],
  ])("%s", (text, message) => {
    expect(failure(text)).toBe(message);
  });
});

describe("ENV, LABEL, ARG keep the raw remainder; errors come at parse time", () => {
  test.each([
    ['ENV a=1 b="x y"', ['a=1 b="x y"']],
    ["ENV foo bar baz", ["foo bar baz"]],
    ["LABEL a=b", ["a=b"]],
    ["ARG VERSION", ["VERSION"]],
    ["ARG A=1 B", ["A=1 B"]],
  ])("%s", (line, args) => {
    expect(one(line).args).toEqual(args);
  });
  test("ARGs before the first FROM are instructions", () => {
    const df = parse("ARG BASE=alpine\nARG TAG\nFROM $BASE:$TAG\nARG TAG");
    expect(df.instructions.map(dump)).toEqual([["arg", "BASE=alpine"], ["arg", "TAG"], ["from", "$BASE:$TAG"], ["arg", "TAG"]]);
  });
  test.each([
    ["ENV", "Dockerfile:5: ENV requires at least one argument"],
    ["ENV foo", "Dockerfile:5: ENV must have two arguments"],
    ["ENV =foo", "Dockerfile:5: ENV names can not be blank"],
    ["ENV a=b c", `Dockerfile:5: Syntax error - can't find = in "c". Must be of the form: name=value`],
    ["LABEL", "Dockerfile:5: LABEL requires at least one argument"],
    ["LABEL =x", "Dockerfile:5: LABEL names can not be blank"],
    ["ARG", "Dockerfile:5: ARG requires at least one argument"],
    ["ARG =x", "Dockerfile:5: ARG names can not be blank"],
  ])("%s", (line, message) => {
    expect(failure(`FROM a\n\n\n\n${line}`)).toBe(message);
  });
});

describe("COPY, ADD, EXPOSE and single-argument instructions", () => {
  test.each([
    ["COPY a b /dst/", ["a", "b", "/dst/"]],
    ["COPY\t$SRC\t${DST}", ["$SRC", "${DST}"]],
    ["ADD https://example.com/x.tgz /", ["https://example.com/x.tgz", "/"]],
    ["EXPOSE 80/tcp 443 $PORTS", ["80/tcp", "443", "$PORTS"]],
    ["WORKDIR /a b", ["/a b"]],
    ["USER app:app", ["app:app"]],
    ["STOPSIGNAL SIGKILL", ["SIGKILL"]],
    ["MAINTAINER Jane Doe <jane@example.com>", ["Jane Doe <jane@example.com>"]],
  ])("%s", (line, args) => {
    expect(one(line).args).toEqual(args);
  });
  test.each([
    ["COPY a", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"],
    ["ADD", "Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could not be determined"],
    ["COPY a <<EOF\nx\nEOF", "Dockerfile:2: COPY cannot accept a heredoc as a destination"],
    ["EXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"],
    ["WORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"],
    ["USER", "Dockerfile:2: USER requires exactly one argument"],
    ["STOPSIGNAL", "Dockerfile:2: STOPSIGNAL requires exactly one argument"],
    ["MAINTAINER", "Dockerfile:2: MAINTAINER requires exactly one argument"],
  ])("%s", (line, message) => {
    expect(failure(`FROM a\n${line}`)).toBe(message);
  });
});

describe("heredocs (after buildkit's parser_heredoc_test.go)", () => {
  const text = [
    "FROM alpine:3.6",
    "ENV NAME=me",
    "RUN ls",
    "RUN <<EMPTY", "EMPTY",
    "RUN 3<<EMPTY2", "EMPTY2",
    'RUN "<<NOHEREDOC"',
    "RUN <<INDENT", "\tfoo", "\tbar", "INDENT",
    "RUN <<-UNINDENT", "\tbaz", "\tquux", "UNINDENT",
    "RUN <<-UNINDENT2", "\tbaz", "\tquux", "\tUNINDENT2",
    "RUN <<-EXPAND", "\texpand $NAME", "EXPAND",
    "RUN <<-'NOEXPAND'", "\tdon't expand $NAME", "NOEXPAND",
    "RUN <<COPY", "echo hello world", "echo foo bar", "COPY",
    "RUN <<COMMENT", "# internal comment", "echo hello world", "echo foo bar # trailing comment", "COMMENT",
    "RUN --mount=type=cache,target=/foo <<MOUNT", "echo hello", "MOUNT",
    "COPY <<FILE1 <<FILE2 /dest", "content 1", "FILE1", "content 2", "FILE2",
    "COPY <<EOF /quotes", '"foo"', "'bar'", "EOF",
    "COPY <<X <<Y /dest", "Y", "X", "X", "Y",
    "RUN <<COMPLEX python3", "print('hello world')", "COMPLEX",
    "COPY <<file.txt /dest", "hello world", "file.txt",
    "RUN <<eo'f'", "echo foo", "eof",
    "RUN <<eo\\'f", "echo foo", "eo'f",
    "RUN <<'e'o\\'f", "echo foo", "eo'f",
    "RUN <<'one two'", "echo bar", "one two",
    "RUN <<$EOF", "$EOF",
    "RUN <<  EOF", "EOF",
    "RUN <<  EOF  > foo", "EOF",
    'RUN ["<<EOF"]',
    "", // a trailing newline
  ].join("\n");
  const df = parse(text);
  const docs = df.instructions.slice(1).map((i) => i.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp]));

  test.each([
    [0, []], // ENV
    [1, []], // RUN ls
    [2, [["EMPTY", "", true, false]]],
    [3, [["EMPTY2", "", true, false]]],
    [4, []], // "<<NOHEREDOC" is quoted
    [5, [["INDENT", "\tfoo\n\tbar\n", true, false]]],
    [6, [["UNINDENT", "baz\nquux\n", true, true]]],
    [7, [["UNINDENT2", "baz\nquux\n", true, true]]],
    [8, [["EXPAND", "expand $NAME\n", true, true]]],
    [9, [["NOEXPAND", "don't expand $NAME\n", false, true]]],
    [10, [["COPY", "echo hello world\necho foo bar\n", true, false]]],
    [11, [["COMMENT", "# internal comment\necho hello world\necho foo bar # trailing comment\n", true, false]]],
    [12, [["MOUNT", "echo hello\n", true, false]]],
    [13, [["FILE1", "content 1\n", true, false], ["FILE2", "content 2\n", true, false]]],
    [14, [["EOF", "\"foo\"\n'bar'\n", true, false]]],
    [15, [["X", "Y\n", true, false], ["Y", "X\n", true, false]]],
    [16, [["COMPLEX", "print('hello world')\n", true, false]]],
    [17, [["file.txt", "hello world\n", true, false]]],
    [18, [["eof", "echo foo\n", false, false]]],
    [19, [["eo'f", "echo foo\n", true, false]]],
    [20, [["eo'f", "echo foo\n", false, false]]],
    [21, [["one two", "echo bar\n", false, false]]],
    [22, [["$EOF", "", true, false]]],
    [23, [["EOF", "", true, false]]],
    [24, [["EOF", "", true, false]]],
    [25, []], // JSON form
  ])("instruction %i", (n, want) => {
    expect(docs[n]).toEqual(want);
  });

  test("arguments and line ranges around heredocs", () => {
    const byLine = (line: number) => df.instructions.find((i) => i.line === line)!;
    expect(byLine(39)).toMatchObject({ cmd: "copy", args: ["<<FILE1", "<<FILE2", "/dest"], line: 39, endLine: 43 });
    expect(byLine(36)).toMatchObject({ cmd: "run", args: ["<<MOUNT"], flags: { mount: ["type=cache,target=/foo"] }, endLine: 38 });
    expect(df.instructions.at(-1)).toMatchObject({ args: ["<<EOF"], json: true });
  });

  test("CRLF bodies keep their line endings; the delimiter line may end in CR", () => {
    const i = one("COPY <<EOF /x\r\nline 1\r\nline 2\r\nEOF\r\nRUN next");
    expect(i.heredocs[0]!.content).toBe("line 1\r\nline 2\r\n");
    expect(steps("COPY <<EOF /x\r\nline 1\r\nEOF\r\nRUN next").map((x) => x.cmd)).toEqual(["copy", "run"]);
  });

  test("a heredoc after a continued line", () => {
    const i = one("RUN --network=none \\\n  <<EOF sh\necho hi\nEOF");
    expect(i).toMatchObject({ args: ["<<EOF sh"], line: 2, endLine: 5 });
    expect(i.heredocs).toEqual([{ name: "EOF", content: "echo hi\n", expand: true, chomp: false }]);
  });

  test("heredocs only for RUN, COPY and ADD", () => {
    expect(failure("FROM a\nCMD <<EOF\nEOF")).toBe("Dockerfile:3: unknown instruction: EOF (did you mean ENV?)");
  });

  test.each([
    ["FROM a\nRUN <<EOF\necho", "Dockerfile:2: unterminated heredoc"],
    ["FROM a\n\nCOPY <<A <<B /d\nx\nA\ny\n", "Dockerfile:3: unterminated heredoc"],
    ["FROM a\nRUN <<-EOF\n  EOF\n", "Dockerfile:2: unterminated heredoc"], // <<- strips tabs only
  ])("%j", (text, message) => {
    expect(failure(text)).toBe(message);
  });
});

describe("ONBUILD", () => {
  test("wraps the parsed trigger", () => {
    const i = one("ONBUILD COPY --chown=app . /src");
    expect(i.cmd).toBe("onbuild");
    expect(i.args).toEqual(["COPY --chown=app . /src"]);
    expect(i.onbuild).toMatchObject({ cmd: "copy", args: [".", "/src"], flags: { chown: ["app"] }, original: "COPY --chown=app . /src", line: 2 });
  });
  test("a trigger with a heredoc", () => {
    const i = one("ONBUILD RUN <<EOF\necho hi\nEOF\nRUN after");
    expect(i.endLine).toBe(4);
    expect(i.onbuild!.heredocs).toEqual([{ name: "EOF", content: "echo hi\n", expand: true, chomp: false }]);
  });
  test('a JSON trigger: ONBUILD CMD ["a"]', () => {
    expect(one('onbuild cmd ["a"]').onbuild).toMatchObject({ cmd: "cmd", args: ["a"], json: true });
  });
  test.each([
    ["ONBUILD", "Dockerfile:2: ONBUILD requires at least one argument"],
    ["ONBUILD ONBUILD RUN x", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ["onbuild onbuild run x", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ["ONBUILD FROM alpine", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"],
    ["ONBUILD maintainer me", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"],
    ["ONBUILD FORM x", "Dockerfile:2: unknown instruction: FORM (did you mean FROM?)"],
    ["ONBUILD --x RUN y", "Dockerfile:2: Unknown flag: x"],
    ["ONBUILD COPY a", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"],
  ])("%s", (line, message) => {
    expect(failure(`FROM a\n${line}`)).toBe(message);
  });
});

describe("file-level errors name the file and line", () => {
  test.each([
    ["FROM a\nRUN b\n\n\n\n\nFORM c", "Dockerfile:7: unknown instruction: FORM (did you mean FROM?)"],
    ["FROM a\nrunn x", "Dockerfile:2: unknown instruction: runn (did you mean run?)"],
    ["FROM a\nCOPPY a b", "Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)"],
    ["FROM a\nFOOBAR x", "Dockerfile:2: unknown instruction: FOOBAR"],
    ["FROM a\n  RUN a \\\n   b\nXRUN \\\n c", "Dockerfile:4: unknown instruction: XRUN (did you mean RUN?)"],
    ["# only a comment\n\n# another", "Dockerfile:3: file with no instructions"],
    ["RUN x\nFROM a", "Dockerfile:1: no build stage in current context"],
    ["ARG A\nENV B=1\nFROM a", "Dockerfile:2: no build stage in current context"],
  ])("%j", (text, message) => {
    expect(failure(text)).toBe(message);
  });
  test.each(["", " \n\t\n"])("an empty file: %j", (text) => {
    expect(failure(text, "build/Dockerfile.dev")).toBe("the Dockerfile (build/Dockerfile.dev) cannot be empty");
  });
  test("the file name is a parameter", () => {
    expect(failure("FROM a\nXYZZY", "ci/Containerfile")).toBe("ci/Containerfile:2: unknown instruction: XYZZY");
  });
  test("errors carry a hint where there is something to do", () => {
    expect(hintOf("FROM a b")).toBe("write FROM <image> [AS <name>]");
    expect(hintOf("RUN x")).toBe("start the Dockerfile with FROM (only ARG may come before it)");
  });
});
