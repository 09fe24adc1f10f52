// Pure logic: argument parsing, references, users, paths, templates, changes.
import { describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { parseArgs, parseBytes } from "../core/cli/args.ts";
import { renderTemplate } from "../core/cli/template.ts";
import { humanDuration, humanSize } from "../core/cli/format.ts";
import { familiarName, normalize, parseReference } from "../core/images/reference.ts";
import { applyChanges } from "../core/images/changes.ts";
import { chainIds } from "../core/images/store.ts";
import { resolveInRoot } from "../core/paths.ts";
import { resolveUser } from "../plugins/isolation/namespaces/users.ts";

describe("argument parsing (pflag rules)", () => {
  const defs = [
    { name: "interactive", short: "i", kind: "bool" as const, help: "" },
    { name: "tty", short: "t", kind: "bool" as const, help: "" },
    { name: "env", short: "e", kind: "list" as const, help: "" },
    { name: "name", kind: "string" as const, help: "" },
    { name: "network", kind: "string" as const, help: "", aliases: ["net"] },
  ];
  test("bundled shorts, attached values, long forms, aliases", () => {
    const { flags, args } = parseArgs(["-it", "-eA=1", "-e", "B=2", "--name=x", "--net", "host", "img", "-e", "cmd"], defs, true);
    expect(flags.bool("interactive") && flags.bool("tty")).toBe(true);
    expect(flags.list("env")).toEqual(["A=1", "B=2"]);
    expect(flags.string("name")).toBe("x");
    expect(flags.string("network")).toBe("host");
    expect(args).toEqual(["img", "-e", "cmd"]);
  });
  test("interspersed flags when not stopping at positionals; -- ends flags", () => {
    const { flags, args } = parseArgs(["a", "-i", "b", "--", "-t"], defs);
    expect(flags.bool("interactive")).toBe(true);
    expect(flags.bool("tty")).toBe(false);
    expect(args).toEqual(["a", "b", "-t"]);
  });
  test("unknown flags and missing values are errors", () => {
    expect(() => parseArgs(["--nope"], defs)).toThrow("unknown flag: --nope");
    expect(() => parseArgs(["--name"], defs)).toThrow("flag needs an argument: --name");
    expect(() => parseArgs(["-x"], defs)).toThrow("unknown shorthand flag: 'x' in -x");
  });
  test("sizes as Docker reads them", () => {
    expect(parseBytes("512m", "m")).toBe(512 * 1024 * 1024);
    expect(parseBytes("1g", "m")).toBe(1024 ** 3);
    expect(parseBytes("100", "m")).toBe(100);
    expect(parseBytes("2GiB", "m")).toBe(2 * 1024 ** 3);
    expect(() => parseBytes("lots", "--memory")).toThrow("invalid size: 'lots' for --memory");
  });
});

describe("image references", () => {
  test("normalisation and familiar names", () => {
    expect(normalize("busybox")).toBe("docker.io/library/busybox:latest");
    expect(normalize("user/app:v1")).toBe("docker.io/user/app:v1");
    expect(normalize("localhost:5000/app")).toBe("localhost:5000/app:latest");
    expect(familiarName(parseReference("docker.io/library/busybox:1.36"))).toBe("busybox:1.36");
    expect(() => parseReference("Upper")).toThrow("repository name must be lowercase");
    expect(() => parseReference("a:b:c")).toThrow("invalid reference format");
  });
  test("chain IDs follow the OCI definition", () => {
    const a = `sha256:${"a".repeat(64)}`;
    const b = `sha256:${"b".repeat(64)}`;
    const [c1, c2] = chainIds([a, b]);
    expect(c1).toBe(a);
    expect(c2).toBe(`sha256:${new Bun.CryptoHasher("sha256").update(`${a} ${b}`).digest("hex")}`);
  });
});

describe("users", () => {
  const passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n";
  const group = "root:x:0:\nstaff:x:50:app,other\napps:x:1001:\n";
  test("runc's resolution rules", () => {
    expect(resolveUser("", passwd, group)).toEqual({ uid: 0, gid: 0, groups: [], home: "/root" });
    expect(resolveUser("app", passwd, group)).toEqual({ uid: 1000, gid: 1001, groups: [50], home: "/home/app" });
    expect(resolveUser("1000:staff", passwd, group)).toMatchObject({ uid: 1000, gid: 50 });
    expect(resolveUser("7:8", passwd, group)).toEqual({ uid: 7, gid: 8, groups: [], home: "/" });
    expect(() => resolveUser("ghost", passwd, group)).toThrow("unable to find user ghost");
    expect(() => resolveUser("app:ghosts", passwd, group)).toThrow("unable to find group ghosts");
  });
});

describe("resolveInRoot", () => {
  test("symlinks never lead outside the root", () => {
    const root = mkdtempSync("/tmp/berth-paths-");
    mkdirSync(`${root}/real`);
    symlinkSync("/etc", `${root}/abs`);
    symlinkSync("../../../../..", `${root}/up`);
    symlinkSync("real", `${root}/rel`);
    symlinkSync("loop", `${root}/loop`);
    expect(resolveInRoot(root, "/abs/passwd")).toBe(`${root}/etc/passwd`);
    expect(resolveInRoot(root, "/up/etc/shadow")).toBe(`${root}/etc/shadow`);
    expect(resolveInRoot(root, "/../../x")).toBe(`${root}/x`);
    expect(resolveInRoot(root, "/rel/f")).toBe(`${root}/real/f`);
    expect(resolveInRoot(root, "/abs", false)).toBe(`${root}/abs`);
    expect(() => resolveInRoot(root, "/loop/x")).toThrow("too many levels of symbolic links");
    rmSync(root, { recursive: true });
  });
});

describe("templates and formatting", () => {
  test("a Go-template subset", () => {
    const data = { State: { Status: "exited", ExitCode: 0 }, Names: ["a", "b"], Labels: { k: "v" } };
    expect(renderTemplate("{{.State.Status}}\\t{{.State.ExitCode}}", data)).toBe("exited\t0");
    expect(renderTemplate("{{json .State}}", data)).toBe('{"Status":"exited","ExitCode":0}');
    expect(renderTemplate("{{range .Names}}[{{.}}]{{end}}", data)).toBe("[a][b]");
    expect(renderTemplate('{{index .Labels "k"}}', data)).toBe("v");
    expect(renderTemplate("{{if .State.ExitCode}}bad{{else}}ok{{end}}", data)).toBe("ok");
  });
  test("Docker's human units", () => {
    expect(humanSize(2_140_160)).toBe("2.14MB");
    expect(humanSize(999)).toBe("999B");
    expect(humanDuration(500)).toBe("Less than a second");
    expect(humanDuration(90_000)).toBe("About a minute");
    expect(humanDuration(150_000)).toBe("2 minutes");
    expect(humanDuration(3 * 3600_000)).toBe("3 hours");
  });
});

describe("import --change", () => {
  test("the config instructions", () => {
    const c = applyChanges({ Env: ["A=1"] }, ['CMD ["sh", "-c", "x"]', "ENTRYPOINT /bin/run it", "ENV A=2 B=\"two words\"", "EXPOSE 80 53/udp", "WORKDIR /srv", "WORKDIR app", "USER app", "LABEL k=v"]);
    expect(c).toEqual({
      Cmd: ["sh", "-c", "x"],
      Entrypoint: ["/bin/sh", "-c", "/bin/run it"],
      Env: ["A=2", "B=two words"],
      ExposedPorts: { "80/tcp": {}, "53/udp": {} },
      WorkingDir: "/srv/app",
      User: "app",
      Labels: { k: "v" },
    });
    expect(() => applyChanges({}, ["RUN make"])).toThrow("RUN is not a valid change command");
  });
});
