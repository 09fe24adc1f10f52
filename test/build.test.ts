// berth build (and DOCKER_BUILDKIT=0 docker build) against berthd: every
// instruction, the cache, .dockerignore, multi-stage builds with skipped
// and parallel stages, failures with their lines and exit codes. Images are
// built offline from the busybox base.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { berth, importBusybox, leaks, makeRoot, removeRoot, stopDaemon, type Result, type TestRoot } from "./helpers/berth.ts";
import { startRegistry } from "./helpers/docker-registry.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
}, 60_000);
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const ok = async (args: string[], opts: { stdin?: string } = {}) => {
  const r = await berth(t, args, opts);
  expect(r.code, `berth ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
};
/** A context directory with these files (Dockerfile included). */
function context(files: Record<string, string>): string {
  const dir = mkdtempSync(`${t.root}/ctx-`);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(`${dir}/${name}`.replace(/\/[^/]*$/, ""), { recursive: true });
    writeFileSync(`${dir}/${name}`, body);
  }
  return dir;
}
const inspect = async (ref: string, format: string) => (await ok(["image", "inspect", "-f", format, ref])).trim();
const run = (ref: string, ...cmd: string[]) => ok(["run", "--rm", ref, ...cmd]);
const built = (r: Result) => /Successfully built ([a-f0-9]{12})/.exec(r.stdout)?.[1];
const imageCount = async () => (await ok(["images", "-aq"])).trim().split("\n").filter(Boolean).length;

describe("instructions", () => {
  test("every instruction shapes the image: config fields, files, owners and modes", async () => {
    const dir = context({
      Dockerfile: [
        "# syntax=docker/dockerfile:1",
        "ARG BASE=bb",
        "FROM $BASE AS base",
        "LABEL org.example.name=\"demo app\" version=1",
        "MAINTAINER someone@example.com",
        "ENV APP=/srv/app \\",
        "    MODE=prod",
        "ENV LEGACY legacy value",
        "ENV FALLBACK=${UNSET:-fallback} SET=${MODE:+was-set}",
        "ARG WHO=world",
        "WORKDIR $APP",
        "WORKDIR sub",
        "USER 0:0",
        "EXPOSE 80 8000-8001/udp",
        "VOLUME [\"/data\"]",
        "HEALTHCHECK --interval=5s --retries=2 CMD [\"true\"]",
        "STOPSIGNAL SIGUSR1",
        "SHELL [\"/bin/sh\", \"-ec\"]",
        "RUN echo \"hello $WHO in $MODE\" > greeting.txt",
        "RUN [\"sh\", \"-c\", \"echo exec form > /exec.txt\"]",
        "RUN <<EOF",
        "echo one > /heredoc.txt",
        "echo two >> /heredoc.txt",
        "EOF",
        "COPY --chown=1000:1001 --chmod=750 tool.sh /usr/local/bin/",
        "COPY <<EOF /etc/motd",
        "welcome to ${APP}",
        "EOF",
        "ADD bundle.tar.gz /opt/",
        "ONBUILD RUN echo triggered > /onbuild.txt",
        "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
        "CMD [\"cat greeting.txt\"]",
      ].join("\n"),
      "tool.sh": "#!/bin/sh\necho tool\n",
      "payload/inner.txt": "inside the archive\n",
    });
    Bun.spawnSync(["tar", "-C", `${dir}/payload`, "-czf", `${dir}/bundle.tar.gz`, "inner.txt"]);
    const out = await ok(["build", "-t", "demo:1", "--build-arg", "WHO=berth", dir]);
    expect(out).toMatch(/^Step 1\/24 : FROM \$BASE AS base\n/); // the global ARG is not a step
    expect(out).toContain("Successfully tagged demo:1\n");

    const config = JSON.parse(await inspect("demo:1", "{{json .Config}}"));
    expect(config.Labels).toEqual({ "org.example.name": "demo app", version: "1" });
    expect(config.Env).toEqual(expect.arrayContaining(["APP=/srv/app", "MODE=prod", "LEGACY=legacy value", "FALLBACK=fallback", "SET=was-set"]));
    expect(config.Env.some((e: string) => e.startsWith("WHO="))).toBe(false); // an ARG is not kept in the image
    expect(config.WorkingDir).toBe("/srv/app/sub");
    expect(config.User).toBe("0:0");
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(["80/tcp", "8000/udp", "8001/udp"]);
    expect(config.Volumes).toEqual({ "/data": {} });
    expect(config.Healthcheck).toEqual({ Test: ["CMD", "true"], Interval: 5e9, Retries: 2 });
    expect(config.StopSignal).toBe("SIGUSR1");
    expect(config.Shell).toEqual(["/bin/sh", "-ec"]);
    expect(config.OnBuild).toEqual(["RUN echo triggered > /onbuild.txt"]);
    expect(config.Entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(config.Cmd).toEqual(["cat greeting.txt"]);
    expect(await inspect("demo:1", "{{.Author}}")).toBe("someone@example.com");

    expect(await ok(["run", "--rm", "demo:1"])).toBe("hello berth in prod\n");
    const files = await ok(["run", "--rm", "--entrypoint", "sh", "demo:1", "-c", "cat /exec.txt /heredoc.txt /etc/motd /opt/inner.txt; stat -c '%u:%g %a' /usr/local/bin/tool.sh"]);
    expect(files).toBe("exec form\none\ntwo\nwelcome to /srv/app\ninside the archive\n1000:1001 750\n");

    // ONBUILD triggers run in the image built on it, and are not passed on.
    const child = context({ Dockerfile: "FROM demo:1\nRUN test -f /onbuild.txt\n" });
    const childOut = await ok(["build", "-t", "demo:child", child]);
    expect(childOut).toContain("# Executing 1 build trigger\n");
    expect(await inspect("demo:child", "{{json .Config.OnBuild}}")).toBe("null");
    await ok(["rmi", "demo:child", "demo:1"]);
  }, 60_000);

  test("COPY's destination rules: into a directory, onto a file name, a directory's contents, wildcards", async () => {
    const dir = context({
      Dockerfile: [
        "FROM bb",
        "COPY one.txt /file-named",
        "COPY one.txt /etc",
        "COPY one.txt two.txt /both/",
        "COPY tree /tree",
        "COPY *.md /docs/",
        "WORKDIR /w",
        "COPY one.txt relative.txt",
      ].join("\n"),
      "one.txt": "1\n",
      "two.txt": "2\n",
      "a.md": "a\n",
      "b.md": "b\n",
      "tree/x/y.txt": "y\n",
    });
    await ok(["build", "-t", "rules:1", dir]);
    const out = await run("rules:1", "sh", "-c", "cat /file-named /etc/one.txt /both/one.txt /both/two.txt /tree/x/y.txt /w/relative.txt; ls /docs");
    expect(out).toBe("1\n1\n1\n2\ny\n1\na.md\nb.md\n");
    await ok(["rmi", "rules:1"]);
  });

  test("a stage FROM scratch with a static binary copied in, and the predefined and unused build args", async () => {
    const dir = context({ Dockerfile: "FROM bb AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /busybox\nCMD [\"/busybox\", \"echo\", \"from scratch\"]\n" });
    const r = await berth(t, ["build", "-t", "scratchy:1", "--build-arg", "UNUSED=1", "--build-arg", "HTTP_PROXY=http://127.0.0.1:9", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("[Warning] One or more build-args [UNUSED] were not consumed\n");
    expect(await run("scratchy:1")).toBe("from scratch\n");
    expect(await inspect("scratchy:1", "{{len .RootFS.Layers}}")).toBe("1");
    await ok(["rmi", "scratchy:1"]);
  });
});

describe("base images from a registry", () => {
  test("a missing base image is pulled; --pull pulls it again even when it is here", async () => {
    const reg = await startRegistry();
    try {
      const base = `${reg.domain}/base/bb:1`;
      await ok(["tag", "bb", base]);
      await ok(["push", base]);
      await ok(["rmi", base]);
      const dir = context({ Dockerfile: `FROM ${base}\nRUN echo pulled-base > /p\n` });
      const first = await ok(["build", "-t", "frombase:1", dir]);
      expect(first).toContain("Pulling from base/bb");
      expect(await run("frombase:1", "cat", "/p")).toBe("pulled-base\n");
      const cached = await ok(["build", "-t", "frombase:1", dir]);
      expect(cached).not.toContain("Pulling from");
      const pulled = await ok(["build", "--pull", "-t", "frombase:1", dir]);
      expect(pulled).toContain("Pulling from base/bb");
      expect(pulled).toContain("Using cache"); // the same base: the RUN step is reused
      await ok(["rmi", "frombase:1", base]);
    } finally {
      await reg.stop();
    }
  }, 60_000);
});

describe("the cache", () => {
  test("an unchanged rebuild runs nothing; a changed file rebuilds from its COPY down; mtimes alone do not count", async () => {
    const dir = context({
      Dockerfile: "FROM bb\nRUN echo base > /base.txt\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy-of-app.txt\nCMD [\"cat\", \"/copy-of-app.txt\"]\n",
      "app.txt": "v1\n",
    });
    const first = await berth(t, ["build", "-t", "cached:1", dir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).not.toContain("Using cache");
    const containersBefore = (await ok(["ps", "-aq"])).trim();

    const again = await berth(t, ["build", "-t", "cached:1", dir]);
    expect(again.stdout.match(/Using cache/g)?.length).toBe(4);
    expect(again.stdout).not.toContain("Running in");
    expect(built(again)).toBe(built(first));

    utimesSync(`${dir}/app.txt`, new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect(built(await berth(t, ["build", dir]))).toBe(built(first));

    writeFileSync(`${dir}/app.txt`, "v2\n");
    const changed = await berth(t, ["build", "-t", "cached:1", dir]);
    const steps = changed.stdout.split(/^Step /m).slice(1);
    expect(steps[1]).toContain("Using cache"); // RUN echo base
    expect(steps[2]).not.toContain("Using cache"); // COPY app.txt
    expect(steps[3]).toContain("Running in"); // the RUN after it
    expect(await run("cached:1")).toBe("v2\n");

    const noCache = await berth(t, ["build", "--no-cache", "-t", "cached:1", dir]);
    expect(noCache.stdout).not.toContain("Using cache");
    expect((await ok(["ps", "-aq"])).trim()).toBe(containersBefore); // RUN containers were removed
    await ok(["rmi", "cached:1"]);
  }, 60_000);

  test("a build arg's value is part of the RUN steps' key", async () => {
    const dir = context({ Dockerfile: "FROM bb\nARG V=1\nRUN echo $V > /v\n" });
    await ok(["build", "-t", "argkey:1", dir]);
    const same = await ok(["build", "-t", "argkey:1", dir]);
    expect(same).not.toContain("Running in");
    const other = await ok(["build", "-t", "argkey:1", "--build-arg", "V=2", dir]);
    expect(other).toContain("Running in");
    expect(await run("argkey:1", "cat", "/v")).toBe("2\n");
    await ok(["rmi", "argkey:1"]);
  });

  test("intermediate images: hidden from images, shown by images -a, and removed with the image built on them", async () => {
    const before = await imageCount();
    const shown = async () => (await ok(["images", "-q"])).trim().split("\n").length;
    const shownBefore = await shown();
    const dir = context({ Dockerfile: "FROM bb\nENV A=1\nRUN touch /x\nCMD [\"ls\"]\n" });
    await ok(["build", "-t", "layers:1", dir]);
    expect(await imageCount()).toBe(before + 3);
    expect(await shown()).toBe(shownBefore + 1); // the two intermediate images are not listed
    const history = await ok(["history", "--format", "{{.ID}} {{.CreatedBy}}", "layers:1"]);
    expect(history.split("\n")[1]).toMatch(/^[a-f0-9]{12} \|?.*touch \/x/); // each step's image is named
    const parent = await inspect("layers:1", "{{.Parent}}");
    expect(parent).toMatch(/^sha256:/);
    const rmi = await ok(["rmi", "layers:1"]);
    expect(rmi.match(/Deleted: /g)?.length).toBe(3);
    expect(await imageCount()).toBe(before);
  });
});

describe(".dockerignore", () => {
  test("excluded files are not in the context; ! patterns bring some back; COPY of an excluded file fails naming it", async () => {
    const dir = context({
      Dockerfile: "FROM bb\nCOPY . /ctx\n",
      ".dockerignore": "# comments are ignored\n*.log\nsecrets/\nbuild/**\n!build/keep.txt\nDockerfile\n",
      "app.js": "app\n",
      "debug.log": "noise\n",
      "nested/deep.log": "kept: *.log is only the top level\n",
      "secrets/key": "hidden\n",
      "build/out/a.o": "obj\n",
      "build/keep.txt": "kept\n",
    });
    await ok(["build", "-t", "ignored:1", dir]);
    const listing = await run("ignored:1", "sh", "-c", "cd /ctx && find . -type f | sort");
    expect(listing).toBe("./.dockerignore\n./app.js\n./build/keep.txt\n./nested/deep.log\n");

    writeFileSync(`${dir}/Dockerfile`, "FROM bb\nCOPY secrets/key /key\n");
    const r = await berth(t, ["build", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Dockerfile:2: COPY: file not found in build context or excluded by .dockerignore: stat secrets/key");
    await ok(["rmi", "ignored:1"]);
  });
});

describe("multi-stage builds", () => {
  const multi = [
    "FROM bb AS builder",
    "RUN echo built > /artifact",
    "FROM bb AS unused",
    "RUN echo this stage must not run; exit 1",
    "FROM bb AS other",
    "RUN echo other > /other",
    "FROM bb",
    "COPY --from=builder /artifact /artifact",
    "COPY --from=2 /other /other",
    "COPY --from=bb /bin/busybox /busybox-copy",
    "CMD [\"cat\", \"/artifact\", \"/other\"]",
  ].join("\n");

  test("stages the target does not need are skipped; --from takes a name, an index or an image", async () => {
    const dir = context({ Dockerfile: multi });
    const out = await ok(["build", "-t", "multi:1", dir]);
    expect(out).not.toContain("this stage must not run");
    expect(out).toMatch(/Step \d+\/9 : /); // the skipped stage's two steps are not counted
    expect(await run("multi:1")).toBe("built\nother\n");
    expect(await run("multi:1", "sh", "-c", "cmp /busybox-copy /bin/busybox && echo same")).toBe("same\n");

    const target = await ok(["build", "--target", "builder", "-t", "multi:builder", dir]);
    expect(target).not.toContain("COPY");
    expect(target).toMatch(/Step 2\/2 : RUN echo built/);
    expect(await run("multi:builder", "cat", "/artifact")).toBe("built\n");
    const missing = await berth(t, ["build", "--target", "nope", dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("failed to reach build target nope in Dockerfile");
    await ok(["rmi", "multi:1", "multi:builder"]);
  }, 60_000);

  test("independent stages build at the same time", async () => {
    // /proc/uptime is the host's clock (10 ms steps), the same in every container.
    const stage = (n: string) => [`FROM bb AS ${n}`, `RUN cut -d' ' -f1 /proc/uptime > /start && sleep 1 && cut -d' ' -f1 /proc/uptime > /end`];
    const dir = context({
      Dockerfile: [...stage("a"), ...stage("b"), "FROM bb", "COPY --from=a /start /a.start", "COPY --from=a /end /a.end", "COPY --from=b /start /b.start", "COPY --from=b /end /b.end"].join("\n"),
    });
    await ok(["build", "--no-cache", "-t", "parallel:1", dir]);
    const [aStart, aEnd, bStart, bEnd] = (await run("parallel:1", "cat", "/a.start", "/a.end", "/b.start", "/b.end")).trim().split("\n").map(Number);
    // Each RUN sleeps a second: one started before the other ended.
    expect(bStart! < aEnd! && aStart! < bEnd!).toBe(true);
    await ok(["rmi", "parallel:1"]);
  }, 60_000);
});

describe("failures", () => {
  test("a failing RUN: its exit code is the build's, the line and command are named, and nothing is tagged", async () => {
    const dir = context({ Dockerfile: "FROM bb\nRUN echo before\nRUN echo output of the failure; exit 3\n" });
    const before = await imageCount();
    const r = await berth(t, ["build", "--force-rm", "-t", "broken:1", dir]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain("output of the failure\n");
    expect(r.stderr).toContain("Dockerfile:3: The command '/bin/sh -c echo output of the failure; exit 3' returned a non-zero code: 3");
    expect((await berth(t, ["image", "inspect", "broken:1"])).code).toBe(1);
    expect(await imageCount()).toBe(before + 1); // the step that worked stays, as a cache entry
    expect((await ok(["ps", "-aq"])).trim()).toBe(""); // --force-rm removed the failed step's container
  });

  test("a bad Dockerfile names the line; nothing is built", async () => {
    const before = await imageCount();
    const cases: [string, string][] = [
      ["FROM bb\nRUN true\nFORM bb\n", "Dockerfile:3: unknown instruction: FORM"],
      ["RUN true\n", "Dockerfile:1: no build stage in current context"],
      ["FROM bb\nCOPY missing.txt /x\n", "Dockerfile:2: COPY: file not found in build context"],
      ["FROM bb\nCOPY ../outside /x\n", "forbidden path outside the build context: ../outside"],
      ["FROM bb\nCOPY a b c\n", "When using COPY with more than one source file, the destination must be a directory and end with a /"],
      ["FROM bb\nHEALTHCHECK --interval=soon CMD true\n", "Dockerfile:2"],
      ["", "cannot be empty"],
    ];
    for (const [dockerfile, message] of cases) {
      const dir = context({ Dockerfile: dockerfile, a: "a", b: "b" });
      const r = await berth(t, ["build", "--no-cache", dir]);
      expect(r.code, dockerfile).toBe(1);
      expect(r.stderr, dockerfile).toContain(message);
    }
    expect(await imageCount()).toBe(before);
    const none = await berth(t, ["build", "-f", "/nonexistent/Dockerfile", context({ a: "a" })]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("/nonexistent/Dockerfile");
  });
});

describe("a daemon killed in the middle of a build", () => {
  test("the next daemon removes the build's unpacked context and image views; the build then runs again", async () => {
    const dir = context({ Dockerfile: "FROM bb\nCOPY . /ctx\nRUN sleep 30\n", "file.txt": "x\n" });
    const building = dockerEnv(["build", "-t", "cut:1", dir], { DOCKER_BUILDKIT: "0" }); // a tar context: unpacked in the root
    for (let i = 0; i < 400 && (await ok(["ps", "-q"])).trim() === ""; i++) await Bun.sleep(25);
    const running = (await ok(["ps", "-q"])).trim();
    expect(running).not.toBe("");
    expect(leaks(t).some((l) => l.startsWith("scratch "))).toBe(true);
    await stopDaemon(t, "SIGKILL");
    expect((await building).code).not.toBe(0);

    await ok(["version"]); // a new daemon
    await ok(["rm", "-f", running]); // the RUN's container outlived the daemon, as containers do
    expect(leaks(t)).toEqual([]);
    writeFileSync(`${dir}/Dockerfile`, "FROM bb\nCOPY . /ctx\nRUN true\n");
    await ok(["build", "-t", "cut:1", dir]);
    expect(await run("cut:1", "cat", "/ctx/file.txt")).toBe("x\n");
    await ok(["rmi", "cut:1"]);
  }, 60_000);
});

describe("input and output", () => {
  test("-q prints only the ID, --iidfile writes it, -f names another Dockerfile, - reads one from stdin", async () => {
    const dir = context({ Dockerfile: "FROM bb\nCMD [\"echo\", \"default\"]\n", "other.Dockerfile": "FROM bb\nCMD [\"echo\", \"other\"]\n" });
    const quiet = (await ok(["build", "-q", "--iidfile", `${dir}/iid`, dir])).trim();
    expect(quiet).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(readFileSync(`${dir}/iid`, "utf8")).toBe(quiet);
    const other = await ok(["build", "-q", "-f", `${dir}/other.Dockerfile`, dir]);
    expect(await run(other.trim())).toBe("other\n");
    const stdin = await ok(["build", "-q", "-"], { stdin: "FROM bb\nCMD [\"echo\", \"from stdin\"]\n" });
    expect(await run(stdin.trim())).toBe("from stdin\n");
    const labelled = (await ok(["build", "-q", "--label", "team=infra", dir])).trim();
    expect(await inspect(labelled, "{{json .Config.Labels}}")).toBe('{"team":"infra"}');
    for (const id of [other.trim(), stdin.trim()]) await ok(["rmi", id]);
    // The labelled image was built on the first (its LABEL is one more step): removing it removes its untagged parent.
    expect(await ok(["rmi", labelled])).toBe(`Deleted: ${labelled}\nDeleted: ${quiet}\n`);
  });

  test("DOCKER_BUILDKIT=0 docker build against berthd: a tar context, .dockerignore applied by the client, exit codes", async () => {
    const dir = context({
      Dockerfile: "FROM bb\nARG NAME\nCOPY . /ctx\nRUN echo \"hi $NAME\" > /hi\nCMD [\"cat\", \"/hi\"]\n",
      ".dockerignore": "skip.txt\n",
      "skip.txt": "no\n",
      "keep.txt": "yes\n",
    });
    const env = { DOCKER_BUILDKIT: "0" };
    const r = await dockerEnv(["build", "-t", "viadocker:1", "--build-arg", "NAME=docker", "--iidfile", `${dir}/iid`, dir], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Successfully tagged viadocker:1");
    expect(readFileSync(`${dir}/iid`, "utf8")).toMatch(/^sha256:/);
    expect(await run("viadocker:1")).toBe("hi docker\n");
    expect(await run("viadocker:1", "ls", "/ctx")).toBe("Dockerfile\nkeep.txt\n");
    writeFileSync(`${dir}/Dockerfile`, "FROM bb\nRUN exit 7\n");
    const failed = await dockerEnv(["build", "--force-rm", dir], env);
    expect(failed.code).toBe(7);
    expect(failed.stderr).toContain("returned a non-zero code: 7");
    await ok(["rmi", "viadocker:1"]);
  });
});

/** The docker CLI with extra environment. */
function dockerEnv(args: string[], env: Record<string, string>): Promise<Result> {
  const proc = Bun.spawn(["docker", ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, DOCKER_HOST: t.dockerHost, DOCKER_CLI_HINTS: "false", ...env } });
  return Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([stdout, stderr, code]) => ({ code, stdout, stderr }));
}

