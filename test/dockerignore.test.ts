// .dockerignore matching, case tables after moby/patternmatcher's TestMatches,
// its filepath.Match table and ignorefile.ReadAll.
import { describe, expect, test } from "vitest";
import { isKind } from "../core/errors.ts";
import { alwaysKept, isIgnored, mayIncludeUnder, parseDockerignore } from "../core/build/dockerignore.ts";

const ignored = (patterns: string[], path: string) => isIgnored(parseDockerignore(patterns.join("\n")), path);

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

describe("patternmatcher TestMatches (MatchesOrParentMatches)", () => {
  // [pattern, path, excluded]; "inexact" rows of the original match through a parent.
  const cases: [string, string, boolean][] = [
    ["**", "file", true],
    ["**", "file/", true],
    ["**/", "file", true],
    ["**/", "file/", true],
    ["**", "dir/file", true],
    ["**/", "dir/file", true],
    ["**", "dir/file/", true],
    ["**/", "dir/file/", true],
    ["**/**", "dir/file", true],
    ["**/**", "dir/file/", true],
    ["dir/**", "dir/file", true],
    ["dir/**", "dir/file/", true],
    ["dir/**", "dir/dir2/file", true],
    ["dir/**", "dir/dir2/file/", true],
    ["**/dir", "dir", true],
    ["**/dir", "dir/file", true],
    ["**/dir2/*", "dir/dir2/file", true],
    ["**/dir2/*", "dir/dir2/file/", true],
    ["**/dir2/**", "dir/dir2/dir3/file", true],
    ["**/dir2/**", "dir/dir2/dir3/file/", true],
    ["**file", "file", true],
    ["**file", "dir/file", true],
    ["**/file", "dir/file", true],
    ["**file", "dir/dir/file", true],
    ["**/file", "dir/dir/file", true],
    ["**/file*", "dir/dir/file", true],
    ["**/file*", "dir/dir/file.txt", true],
    ["**/file*txt", "dir/dir/file.txt", true],
    ["**/file*.txt", "dir/dir/file.txt", true],
    ["**/file*.txt*", "dir/dir/file.txt", true],
    ["**/**/*.txt", "dir/dir/file.txt", true],
    ["**/**/*.txt2", "dir/dir/file.txt", false],
    ["**/*.txt", "file.txt", true],
    ["**/**/*.txt", "file.txt", true],
    ["a**/*.txt", "a/file.txt", true],
    ["a**/*.txt", "a/dir/file.txt", true],
    ["a**/*.txt", "a/dir/dir/file.txt", true],
    ["a/*.txt", "a/dir/file.txt", false],
    ["a/*.txt", "a/file.txt", true],
    ["a/*.txt**", "a/file.txt", true],
    ["a[b-d]e", "ae", false],
    ["a[b-d]e", "ace", true],
    ["a[b-d]e", "aae", false],
    ["a[^b-d]e", "aze", true],
    [".*", ".foo", true],
    [".*", "foo", false],
    ["abc.def", "abcdef", false],
    ["abc.def", "abc.def", true],
    ["abc.def", "abcZdef", false],
    ["abc?def", "abcZdef", true],
    ["abc?def", "abcdef", false],
    ["**/foo/bar", "foo/bar", true],
    ["**/foo/bar", "dir/foo/bar", true],
    ["**/foo/bar", "dir/dir2/foo/bar", true],
    ["abc/**", "abc", false],
    ["abc/**", "abc/def", true],
    ["abc/**", "abc/def/ghi", true],
    ["**/.foo", ".foo", true],
    ["**/.foo", "bar.foo", false],
    ["a(b)c/def", "a(b)c/def", true],
    ["a(b)c/def", "a(b)c/xyz", false],
    ["a.|)$(}+{bc", "a.|)$(}+{bc", true],
    ["dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true],
    ["dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true],
    ["a\\\\", "a\\", true],
    ["a\\*b", "a*b", true],
  ];
  test.each(cases)("%s vs %s -> %s", (pattern, path, want) => {
    expect(ignored([pattern], path)).toBe(want);
  });

  test.each([
    [["**", "!util/docker/web"], "util/docker/web/foo", false],
    [["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true],
    [["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false],
    [["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false],
  ])("%j vs %s -> %s", (patterns, path, want) => {
    expect(ignored(patterns, path)).toBe(want);
  });
});

describe("Go's filepath.Match table, as patternmatcher tests it", () => {
  const cases: [string, string, boolean][] = [
    ["abc", "abc", true],
    ["*", "abc", true],
    ["*c", "abc", true],
    ["a*", "a", true],
    ["a*", "abc", true],
    ["a*", "ab/c", true], // "a*" matches the parent "ab"
    ["a*/b", "abc/b", true],
    ["a*/b", "a/c/b", false],
    ["a*b*c*d*e*/f", "axbxcxdxe/f", true],
    ["a*b*c*d*e*/f", "axbxcxdxexxx/f", true],
    ["a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false],
    ["a*b*c*d*e*/f", "axbxcxdxexxx/fff", false],
    ["a*b?c*x", "abxbbxdbxebxczzx", true],
    ["a*b?c*x", "abxbbxdbxebxczzy", false],
    ["ab[c]", "abc", true],
    ["ab[b-d]", "abc", true],
    ["ab[e-g]", "abc", false],
    ["ab[^c]", "abc", false],
    ["ab[^b-d]", "abc", false],
    ["ab[^e-g]", "abc", true],
    ["a\\*b", "a*b", true],
    ["a\\*b", "ab", false],
    ["a?b", "a☺b", true],
    ["a[^a]b", "a☺b", true],
    ["a???b", "a☺b", false],
    ["a[^a][^a][^a]b", "a☺b", false],
    ["[a-ζ]*", "α", true],
    ["*[a-ζ]", "A", false],
    ["a?b", "a/b", false],
    ["a*b", "a/b", false],
    ["[\\]a]", "]", true],
    ["[\\-]", "-", true],
    ["[x\\-]", "x", true],
    ["[x\\-]", "-", true],
    ["[x\\-]", "z", false],
    ["[\\-x]", "x", true],
    ["[\\-x]", "-", true],
    ["[\\-x]", "a", false],
    ["*x", "xxx", true],
  ];
  test.each(cases)("%s vs %s -> %s", (pattern, path, want) => {
    expect(ignored([pattern], path)).toBe(want);
  });

  test.each(["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "ab\\"])("bad pattern %s is refused with its line", (pattern) => {
    const err = thrown(() => parseDockerignore(`# comment\n${pattern}`));
    expect(err.message).toMatch(/^\.dockerignore:2: syntax error in pattern/);
    expect(isKind(err, "InvalidArgument")).toBe(true);
  });
});

describe("exceptions and parent directories", () => {
  test.each([
    [["*.go"], "fileutils.go", true],
    [["!fileutils.go", "*.go"], "fileutils.go", true],
    [["*.go", "!fileutils.go"], "fileutils.go", false],
    [["docs", "!docs/README.md"], "docs/README.md", false],
    [["docs/", "!docs/README.md"], "docs/README.md", false],
    [["docs/*", "!docs/README.md"], "docs/README.md", false],
    [["docs", "!docs/README.md"], "docs/other.md", true],
    [["*.go"], "dir/fileutils.go", false], // * stays in one part
    [["**/*.go"], "dir/fileutils.go", true],
    [["node_modules"], "node_modules/a/b/c.js", true],
    [["node_modules", "!node_modules/keep"], "node_modules/keep/x.js", false],
    [["*", "!*/keep"], "vendor/keep", false],
    [["*", "!*/keep"], "vendor/other", true],
    [[], "anything", false],
    [["*"], ".", false], // the context itself is never excluded
  ])("%j vs %s -> %s", (patterns, path, want) => {
    expect(ignored(patterns, path)).toBe(want);
  });
});

describe("reading the file (ignorefile.ReadAll)", () => {
  const rules = parseDockerignore(
    ["\uFEFFtest1", "/test2", "/a/file/here", "", "lastfile", "# this is a comment", "! /inverted/abs/path", "  # not a comment", "./dot/slash", "trailing/  ", "a/../b"].join("\r\n"),
  );
  const texts = rules.patterns.map((p) => (p.exception ? "!" : "") + p.text);
  test("comments, blanks, BOM and CRLF are dropped; paths are cleaned", () => {
    expect(texts).toEqual(["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "# not a comment", "dot/slash", "trailing", "b"]);
  });
  test.each([
    ["test2", true],
    ["a/file/here", true],
    ["inverted/abs/path", false],
    ["dot/slash/x", true],
    ["trailing/sub/file", true],
    ["b", true],
    ["# not a comment", true],
  ])("%s -> %s", (path, want) => {
    expect(isIgnored(rules, path)).toBe(want);
  });
  test.each(["!", "! ", "x\n!\ny"])("a lone ! is refused: %j", (text) => {
    expect(() => parseDockerignore(text)).toThrow(/^\.dockerignore:\d+: illegal exclusion pattern: "!"$/);
  });
});

describe("mayIncludeUnder: may a walker skip an excluded directory?", () => {
  test.each([
    [["vendor"], "vendor", false],
    [["vendor", "!vendor/keep"], "vendor", true],
    [["vendor", "!vendor/keep"], "other", false],
    [["vendor", "!vendor/keep/deep"], "vendor/keep", true],
    [["vendor", "!vendor/keep"], "vendor/keep", false], // the exception already decided vendor/keep itself
    [["*", "!*/keep"], "vendor", true],
    [["**", "!**/*.go"], "a/b/c", true],
    [["a", "!a/b*/c"], "a", true],
    [["a", "!a/b*/c"], "a/x", false],
    [["a", "!a/b*/c"], "a/by", true],
    [["a", "!x/y"], "a", false],
    [["a/**", "!a/**/keep"], "a/deep/er", true],
    [["a", "!a"], "a", false],
  ])("%j under %s -> %s", (patterns, dir, want) => {
    expect(mayIncludeUnder(parseDockerignore(patterns.join("\n")), dir)).toBe(want);
  });

  test("a walker that skips when it says false finds exactly what isIgnored keeps", () => {
    const rules = parseDockerignore(["*", "!src", "src/**/*.tmp", "!*/keep", "!docs/**/*.md", "docs/draft"].join("\n"));
    const files = ["a/b/c", "src/x.ts", "src/y/z.tmp", "vendor/keep", "vendor/other/keep", "docs/a/b.md", "docs/draft/c.md", "top"];
    const tree = new Map<string, string[]>();
    for (const f of files) {
      const parts = f.split("/");
      for (let i = 1; i <= parts.length; i++) {
        const parent = parts.slice(0, i - 1).join("/");
        const child = parts.slice(0, i).join("/");
        const list = tree.get(parent) ?? [];
        if (!list.includes(child)) list.push(child);
        tree.set(parent, list);
      }
    }
    const walked: string[] = [];
    const walk = (dir: string) => {
      for (const p of tree.get(dir) ?? []) {
        const isDir = tree.has(p);
        const skip = isIgnored(rules, p);
        if (!isDir && !skip) walked.push(p);
        if (isDir && (!skip || mayIncludeUnder(rules, p))) walk(p);
      }
    };
    walk("");
    expect(walked.sort()).toEqual(files.filter((f) => !isIgnored(rules, f)).sort());
    expect(walked.sort()).toEqual(["docs/a/b.md", "src/x.ts", "vendor/keep"]);
  });
});

describe("alwaysKept: the files Docker sends whatever .dockerignore says", () => {
  test.each([
    [".dockerignore", "Dockerfile", true],
    ["Dockerfile", "Dockerfile", true],
    ["./Dockerfile", "Dockerfile", true],
    ["build/Dockerfile.prod", "./build/Dockerfile.prod", true],
    ["Dockerfile", "build/Dockerfile.prod", false],
    ["src/Dockerfile", "Dockerfile", false],
  ])("%s with -f %s -> %s", (path, dockerfile, want) => {
    expect(alwaysKept(path, dockerfile)).toBe(want);
  });
});
