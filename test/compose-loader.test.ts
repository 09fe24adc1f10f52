// The compose loader, stage by stage, through loadProject on files in temp dirs.
import { afterAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadProject, type LoadOptions } from "../core/compose/loader/index.ts";
import { formatConfig, goDuration } from "../core/compose/loader/print.ts";
import { parseYaml } from "../core/compose/loader/parse.ts";
import { cacheDir, parseYamlCached } from "../core/compose/loader/parse-cache.ts";
import { entryOf, positionAt, valueAt } from "../core/compose/loader/positions.ts";
import { generateValidator, validatorPath } from "../bin/gen-compose-validator.ts";
import type { BerthError } from "../core/errors.ts";

const dirs: string[] = [];
// The parse cache of this test process, away from the home directory.
process.env.XDG_CACHE_HOME = mkdtempSync("/tmp/berth-compose-cache-");
dirs.push(process.env.XDG_CACHE_HOME);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh project directory holding `files` (path -> content). */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync("/tmp/berth-compose-");
  dirs.push(dir);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

/** Load `files` (compose.yaml among them, unless opts.files says otherwise) with an empty environment. */
async function load(files: Record<string, string>, opts: LoadOptions = {}) {
  const dir = tree(files);
  const r = await loadProject({ env: {}, cwd: dir, ...opts });
  return { ...r, dir };
}

async function loadError(files: Record<string, string>, opts: LoadOptions = {}): Promise<BerthError> {
  try {
    await load(files, opts);
  } catch (err) {
    return err as BerthError;
  }
  throw new Error("expected the load to fail");
}

const yaml = (lines: string[]) => lines.join("\n") + "\n";

describe("parse", () => {
  test("every value keeps its file:line:col, aliases their anchor's", () => {
    const doc = parseYaml(yaml(["x-base: &base", "  image: busybox", "services:", "  web:", "    <<: *base", "    ports:", '      - "80:80"']), "compose.yaml");
    expect(positionAt(doc, ["services", "web", "ports", 0])).toEqual({ file: "compose.yaml", line: 7, col: 9 });
    expect(positionAt(doc, ["services", "web", "image"])).toEqual({ file: "compose.yaml", line: 2, col: 10 });
    expect(positionAt(doc, ["services", "nope"], true)).toBeUndefined();
  });

  test("anchors, aliases and << merge keys (explicit keys win, earlier merges win over later)", async () => {
    const { project } = await load({
      "compose.yaml": yaml([
        "x-env: &env",
        "  A: from-anchor",
        "  B: from-anchor",
        "x-one: &one {restart: always, user: one}",
        "x-two: &two {restart: 'no', user: two, hostname: two}",
        "services:",
        "  web:",
        "    image: busybox",
        "    <<: [*one, *two]",
        "    user: explicit",
        "    environment:",
        "      <<: *env",
        "      B: own",
        "  db:",
        "    image: busybox",
        "    environment: *env",
      ]),
    });
    const web = project.services.web!;
    expect([web.restart, web.user, web.hostname]).toEqual(["always", "explicit", "two"]);
    expect(web.environment).toEqual({ A: "from-anchor", B: "own" });
    expect(project.services.db!.environment).toEqual({ A: "from-anchor", B: "from-anchor" });
  });

  test("the parse cache gives back the same values, positions and tags; a corrupt entry is parsed again", () => {
    const text = yaml(["x: &a {p: [1, two]}", "services:", "  web:", "    <<: *a", "    ports: !reset []", "    image: busybox"]);
    mkdirSync(cacheDir(), { recursive: true });
    const before = new Set(readdirSync(cacheDir()));
    const first = parseYamlCached(text, "first.yaml");
    const cached = readdirSync(cacheDir()).filter((f) => !before.has(f));
    expect(cached.length).toBe(1);
    const hit = parseYamlCached(text, "hit.yaml");
    expect(hit).toEqual(first);
    expect(positionAt(hit, ["services", "web", "p", 1])).toEqual({ file: "hit.yaml", line: 1, col: 15 });
    expect(entryOf(valueAt(hit, ["services", "web"]), "ports")).toEqual({ key: { file: "hit.yaml", line: 5, col: 5 }, value: { file: "hit.yaml", line: 5, col: 19 }, tag: "!reset" });
    writeFileSync(join(cacheDir(), cached[0]!), "{");
    const again = parseYamlCached(text, "again.yaml");
    expect(again).toEqual(first);
    expect(positionAt(again, ["services", "web", "image"])).toEqual({ file: "again.yaml", line: 6, col: 12 });
  });

  test("the parse cache keeps its newest 256 entries", () => {
    for (let i = 0; i < 300; i++) parseYamlCached(`services: {s${i}: {image: busybox}}\n`, "many.yaml");
    const names = readdirSync(cacheDir());
    expect(names.length).toBe(256);
    // The last one written is kept, and is a hit: no new entry for it.
    parseYamlCached("services: {s299: {image: busybox}}\n", "many.yaml");
    expect(readdirSync(cacheDir()).sort()).toEqual(names.sort());
  });

  test("YAML 1.1 octal file modes", async () => {
    const { project } = await load({
      "compose.yaml": yaml(["services:", "  web:", "    image: busybox", "    secrets:", "      - {source: s, mode: 0440}", "secrets:", "  s: {file: ./s.txt}"]),
    });
    expect(project.services.web!.secrets[0]!.mode).toBe(0o440);
  });

  test.each([
    [yaml(["services:", "  web:", "    image: a", "    image: b"]), "compose.yaml:4:5: duplicate key \"image\""],
    [yaml(["services: {}", "---", "services: {}"]), "compose.yaml:2:1: a compose file holds one YAML document"],
    [yaml(["- services"]), "compose.yaml:1:1: the top level of a compose file must be a mapping"],
    ["", "compose.yaml:1:1: the compose file is empty"],
    [yaml(["services:", "  web: [unclosed"]), "compose.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]"],
  ])("%j fails: %s", async (text, message) => {
    const err = await loadError({ "compose.yaml": text });
    expect(err.kind).toBe("InvalidArgument");
    expect(err.message.startsWith(message)).toBe(true);
  });
});

describe("interpolation in files", () => {
  test("values are substituted from .env and the environment (which wins); keys are not; warnings once", async () => {
    const { project, warnings } = await load(
      {
        "compose.yaml": yaml([
          "services:",
          "  web:",
          "    image: busybox:${TAG:-latest}",
          "    environment:",
          "      $$KEY: ${FROM_DOTENV}",
          "      OVER: ${OVER}",
          "      MISSING: a${NOPE}b",
          "      AGAIN: ${NOPE}",
          "      DOLLAR: $$HOME",
        ]),
        ".env": "FROM_DOTENV=dot\nOVER=dot\n",
      },
      { env: { OVER: "shell" } },
    );
    expect(project.services.web!.image).toBe("busybox:latest");
    expect(project.services.web!.environment).toEqual({ $$KEY: "dot", OVER: "shell", MISSING: "ab", AGAIN: "", DOLLAR: "$HOME" });
    expect(warnings).toEqual(['The "NOPE" variable is not set. Defaulting to a blank string.']);
  });

  test("interpolation comes before validation: a substituted number validates as a port", async () => {
    const { project } = await load({ "compose.yaml": yaml(["services:", "  web:", "    image: busybox", "    ports: ['${PORT:-8080}:80']"]) });
    expect(project.services.web!.ports[0]!.published).toBe("8080");
  });

  test("a required variable names the file, line and column", async () => {
    const err = await loadError({ "compose.yaml": yaml(["services:", "  web:", "    image: ${IMAGE:?set IMAGE in .env}"]) });
    expect(err.message).toBe("compose.yaml:3:12: services.web.image: required variable IMAGE is missing a value: set IMAGE in .env");
  });

  test("--env-file replaces .env and must exist", async () => {
    const { project } = await load(
      { "compose.yaml": yaml(["services:", "  web:", "    image: ${IMG}"]), ".env": "IMG=from-dotenv\n", "other.env": "IMG=from-other\n" },
      { envFiles: ["other.env"] },
    );
    expect(project.services.web!.image).toBe("from-other");
    const err = await loadError({ "compose.yaml": yaml(["services:", "  web:", "    image: x"]) }, { envFiles: ["missing.env"] });
    expect([err.kind, err.message]).toEqual(["NotFound", "env file missing.env not found"]);
  });
});

describe("schema validation", () => {
  test.each([
    [["services:", "  web:", "    imgae: busybox"], 'compose.yaml:3:5: services.web: unknown key "imgae"'],
    [["servics:", "  web: {}"], 'compose.yaml:1:1: unknown key "servics"'],
    [["services:", "  web:", "    image: busybox", "    ports:", "      - true"], "compose.yaml:5:9: services.web.ports[0]: must be a number, string or mapping (got a boolean)"],
    [["services:", "  web:", "    image: busybox", "    ports:", "      - {target: 80, publishd: 8080}"], 'compose.yaml:5:22: services.web.ports[0]: unknown key "publishd"'],
    [["services:", "  web:", "    image: busybox", "    environment:", "      A: [1]"], "compose.yaml:5:10: services.web.environment.A: must be a string, number, boolean or null (got a list)"],
    [["services:", "  web:", "    image: busybox", "    depends_on:", "      db: {condition: [x]}"], "compose.yaml:5:23: services.web.depends_on.db.condition: must be a string (got a list)"],
    [["services:", "  web:", "    image: 3"], "compose.yaml:3:12: services.web.image: must be a string (got a number)"],
    [["services:", "  web:", "    extends: {file: x.yaml}"], 'compose.yaml:3:14: services.web.extends: missing required key "service"'],
    [["services:", "  web server:", "    image: busybox"], 'compose.yaml:2:3: services: invalid name "web server"'],
    [["services:", "  web:", "    image: busybox", "    cap_add: [A, A]"], "compose.yaml:4:14: services.web.cap_add: items [0] and [1] are the same"],
    [["services:", "  web:", "    image: busybox", "    volumes:", "      - {type: nfs, target: /x}"], 'compose.yaml:5:16: services.web.volumes[0].type: must be one of "bind", "volume", "tmpfs", "cluster", "npipe", "image" (got "nfs")'],
  ])("%j: %s", async (lines, message) => {
    const err = await loadError({ "compose.yaml": yaml(lines) });
    expect(err.kind).toBe("InvalidArgument");
    expect(err.message).toBe(message);
  });

  test("the generated validator is up to date with schemas/compose-spec.json", () => {
    expect(readFileSync(validatorPath, "utf8") === generateValidator()).toBe(true);
  });
});

describe("unsupported keys", () => {
  test.each([
    [["services:", "  web:", "    image: busybox", "    devices: [/dev/fuse]"], 'compose.yaml:4:5: services.web.devices: berth does not support "devices"'],
    [["services:", "  web:", "    image: busybox", "    deploy:", "      placement: {constraints: []}"], 'compose.yaml:5:7: services.web.deploy.placement: berth does not support "placement"'],
    [["services:", "  web:", "    image: busybox", "    ports:", "      - {target: 80, app_protocol: http}"], 'compose.yaml:5:22: services.web.ports[0].app_protocol: berth does not support "app_protocol"'],
    [["services:", "  web: {image: busybox}", "networks:", "  n:", "    enable_ipv6: true"], 'compose.yaml:5:5: networks.n.enable_ipv6: berth does not support "enable_ipv6"'],
    [["services:", "  web:", "    image: busybox", "    volumes:", "      - {type: image, source: x, target: /x}"], 'compose.yaml:5:16: services.web.volumes[0].type: berth does not support volumes of type "image"'],
    [["services:", "  web:", "    image: busybox", "    pull_policy: daily"], 'compose.yaml:4:18: services.web.pull_policy: berth does not support pull_policy "daily"'],
    [["services:", "  web:", "    image: busybox", "    volumes: ['./x:/x:z']"], 'compose.yaml:4:15: services.web.volumes[0]: berth does not support SELinux relabeling ("z")'],
  ])("%j: %s", async (lines, message) => {
    const err = await loadError({ "compose.yaml": yaml(lines) });
    expect(err.message).toBe(message);
    expect(err.hint).toBeTruthy();
  });

  test("x- keys are allowed anywhere; version is ignored with Docker's warning", async () => {
    const { project, warnings } = await load({
      "compose.yaml": yaml(["version: '3.8'", "x-top: 1", "services:", "  web:", "    image: busybox", "    x-mine: {anything: [1]}", "    deploy: {x-deep: 1}"]),
    });
    expect(Object.keys(project.services)).toEqual(["web"]);
    expect(warnings).toEqual(["compose.yaml: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"]);
  });
});

describe("normalize", () => {
  const base = (service: string[], extra: string[] = []) => ({ "compose.yaml": yaml(["services:", "  web:", "    image: busybox", ...service.map((l) => `    ${l}`), ...extra]) });

  test("ports: short forms, ranges and the long form", async () => {
    const { project } = await load(base(["ports:", "  - 80", '  - "127.0.0.1:8080:80/udp"', '  - "8000-8001:90-91"', '  - "[::1]::53/udp"', '  - "9000-9010:70"', "  - {target: 443, published: 8443, host_ip: 0.0.0.0, mode: host}"]));
    expect(project.services.web!.ports).toEqual([
      { target: 80, protocol: "tcp", mode: "ingress" },
      { target: 80, published: "8080", host_ip: "127.0.0.1", protocol: "udp", mode: "ingress" },
      { target: 90, published: "8000", protocol: "tcp", mode: "ingress" },
      { target: 91, published: "8001", protocol: "tcp", mode: "ingress" },
      { target: 53, host_ip: "::1", protocol: "udp", mode: "ingress" },
      { target: 70, published: "9000-9010", protocol: "tcp", mode: "ingress" },
      { target: 443, published: "8443", host_ip: "0.0.0.0", protocol: "tcp", mode: "host" },
    ]);
  });

  test.each([
    ['"80/sctp"', 'berth does not support protocol "sctp"'],
    ['"8000-8002:80-81"', "differ in size"],
    ['"http"', 'invalid container port "http"'],
  ])("port %s fails: %s", async (port, message) => {
    const err = await loadError(base([`ports: [${port}]`]));
    expect(err.message.startsWith("compose.yaml:4:13: services.web.ports[0]: ")).toBe(true);
    expect(err.message).toContain(message);
  });

  test("volumes: bind (relative and ~), named, anonymous, options, long forms", async () => {
    const { project, dir } = await load(
      base(["volumes:", "  - ./data:/data:ro", "  - ~/cfg:/cfg:rw,rshared", "  - cache:/cache:nocopy", "  - /anon", "  - {type: bind, source: ../up, target: /up, read_only: true}", "  - {type: tmpfs, target: /t, tmpfs: {size: 64m, mode: '1777'}}"], ["volumes:", "  cache:"]),
      { env: { HOME: "/home/me" } },
    );
    expect(project.services.web!.volumes).toEqual([
      { type: "bind", source: `${dir}/data`, target: "/data", read_only: true, bind: { create_host_path: true } },
      { type: "bind", source: "/home/me/cfg", target: "/cfg", bind: { create_host_path: true, propagation: "rshared" } },
      { type: "volume", source: "cache", target: "/cache", volume: { nocopy: true } },
      { type: "volume", target: "/anon" },
      { type: "bind", source: `${dirname(dir)}/up`, target: "/up", read_only: true },
      { type: "tmpfs", target: "/t", tmpfs: { size: 64 * 1024 * 1024, mode: 0o1777 } },
    ]);
  });

  test("environment, labels, env_file (list and long form), build args", async () => {
    const { project } = await load(
      {
        ...base([
          "environment: [A=1, B=, C, FROM_SHELL, 'D=x=y']",
          "labels: [com.x=1, flag]",
          "env_file: [a.env, {path: b.env, required: true}, {path: missing.env, required: false}]",
          "build: {context: ., args: [V=1, W]}",
        ]),
        "a.env": "A=from-file\nE=e\nF=f\n",
        "b.env": "F=from-b\n",
      },
      { env: { FROM_SHELL: "shell" } },
    );
    const web = project.services.web!;
    expect(web.environment).toEqual({ E: "e", F: "from-b", A: "1", B: "", C: null, FROM_SHELL: "shell", D: "x=y" });
    expect(web.labels).toEqual({ "com.x": "1", flag: "" });
    expect(web.build!.args).toEqual({ V: "1", W: null });
  });

  test("a missing required env_file is a NotFound naming the file at its position", async () => {
    const err = await loadError(base(["env_file:", "  - nope.env"]));
    expect(err.kind).toBe("NotFound");
    expect(err.message).toBe("compose.yaml:5:9: services.web.env_file[0]: env file nope.env not found");
  });

  test("durations, sizes, healthcheck, deploy folding, ulimits, extra_hosts, tmpfs, commands", async () => {
    const { project } = await load(
      base([
        "command: echo 'a b' \"c\"",
        "entrypoint: [/bin/sh, -c]",
        "stop_grace_period: 1m30s",
        "healthcheck: {test: curl -f localhost, interval: 500ms, timeout: 10s, start_period: 1h, retries: '3'}",
        "mem_limit: 1g",
        "memswap_limit: 2g",
        "cpus: '0.5'",
        "pids_limit: 100",
        "cpu_shares: 512",
        "cpuset: 0-1",
        "deploy: {resources: {reservations: {memory: 512k}}, restart_policy: {condition: on-failure, max_attempts: 3}}",
        "ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535}",
        "extra_hosts: ['a=1.2.3.4', 'b:5.6.7.8']",
        "tmpfs: [/run, '/tmp:size=64m']",
        "init: 'true'",
        "privileged: false",
      ]),
    );
    const web = project.services.web!;
    expect(web.command).toEqual(["echo", "a b", "c"]);
    expect(web.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(web.stop_grace_period).toBe(90e9);
    expect(web.healthcheck).toEqual({ test: ["CMD-SHELL", "curl -f localhost"], interval: 500e6, timeout: 10e9, start_period: 3600e9, retries: 3 });
    expect(web.deploy).toEqual({
      resources: { limits: { cpus: 0.5, memory: 1024 ** 3, pids: 100 }, reservations: { memory: 512 * 1024 } },
      memory_swap: 2 * 1024 ** 3,
      cpu_shares: 512,
      cpuset: "0-1",
      restart_policy: { condition: "on-failure", max_attempts: 3 },
    });
    expect(web.ulimits).toEqual({ nofile: { soft: 1024, hard: 2048 }, nproc: { soft: 65535, hard: 65535 } });
    expect(web.extra_hosts).toEqual(["a:1.2.3.4", "b:5.6.7.8"]);
    expect(web.tmpfs).toEqual({ "/run": "", "/tmp": "size=64m" });
    expect([web.init, web.privileged]).toEqual([true, false]);
  });

  test.each([
    [["stop_grace_period: 10 seconds"], 'compose.yaml:4:24: services.web.stop_grace_period: invalid duration "10 seconds"'],
    [["mem_limit: lots"], 'compose.yaml:4:16: services.web.mem_limit: invalid size "lots"'],
    [["init: maybe"], 'compose.yaml:4:11: services.web.init: must be true or false (got "maybe")'],
    [["mem_limit: 1g", "deploy: {resources: {limits: {memory: 2g}}}"], "compose.yaml:4:16: services.web.mem_limit: conflicts with services.web.deploy.resources.limits.memory"],
    [["container_name: cc", "deploy: {replicas: 2}"], 'compose.yaml:4:21: services.web.container_name: service "web" has container_name and 2 replicas'],
    [["restart: sometimes"], 'compose.yaml:4:14: services.web.restart: invalid restart policy "sometimes"'],
    [["network_mode: host", "networks: [n]"], 'compose.yaml:4:19: services.web.network_mode: service "web" declares both network_mode and networks'],
  ])("%j fails: %s", async (lines, message) => {
    const err = await loadError(base(lines, ["networks: {n: {}}"]));
    expect(err.message.startsWith(message)).toBe(true);
  });

  test("depends_on, networks and secrets/configs: short forms to long, defaults", async () => {
    const { project } = await load(
      {
        "compose.yaml": yaml([
          "services:",
          "  web:",
          "    image: busybox",
          "    depends_on: [db]",
          "    networks: [front]",
          "    secrets: [token, {source: cert, target: tls.pem, mode: '0400'}]",
          "    configs: [conf, {source: conf, target: /etc/app.conf}]",
          "  api:",
          "    image: busybox",
          "    depends_on: {db: {condition: service_healthy, restart: true}, web: {condition: service_started, required: false}}",
          "    networks: {front: {aliases: [a], ipv4_address: 10.0.0.5, priority: 10}, back: null}",
          "  db:",
          "    image: busybox",
          "  solo:",
          "    image: busybox",
          "    network_mode: none",
          "networks:",
          "  front: {}",
          "  back: {name: custom-back}",
          "  outside: {external: true}",
          "  legacy: {external: {name: legacy-net}}",
          "volumes:",
          "  v: {}",
          "  ext: {external: true, name: real-ext}",
          "secrets:",
          "  token: {file: ./token.txt}",
          "  cert: {environment: CERT}",
          "configs:",
          "  conf: {content: 'x=1'}",
        ]),
      },
      { projectName: "proj" },
    );
    const { web, api, db, solo } = project.services;
    expect(web!.depends_on).toEqual({ db: { condition: "service_started", restart: false, required: true } });
    expect(api!.depends_on).toEqual({ db: { condition: "service_healthy", restart: true, required: true }, web: { condition: "service_started", restart: false, required: false } });
    expect(web!.networks).toEqual({ front: {} });
    expect(api!.networks).toEqual({ front: { aliases: ["a"], ipv4_address: "10.0.0.5", priority: 10 }, back: {} });
    expect(db!.networks).toEqual({ default: {} });
    expect(solo!.networks).toEqual({});
    expect(web!.secrets).toEqual([{ source: "token", target: "/run/secrets/token" }, { source: "cert", target: "/run/secrets/tls.pem", mode: 0o400 }]);
    expect(web!.configs).toEqual([{ source: "conf", target: "/conf" }, { source: "conf", target: "/etc/app.conf" }]);
    expect(project.networks).toEqual({
      front: { name: "proj_front", external: false, driver_opts: {}, labels: {} },
      back: { name: "custom-back", external: false, driver_opts: {}, labels: {} },
      outside: { name: "outside", external: true, driver_opts: {}, labels: {} },
      legacy: { name: "legacy-net", external: true, driver_opts: {}, labels: {} },
      default: { name: "proj_default", external: false, driver_opts: {}, labels: {} },
    });
    expect(project.volumes).toEqual({ v: { name: "proj_v", external: false, driver_opts: {}, labels: {} }, ext: { name: "real-ext", external: true, driver_opts: {}, labels: {} } });
    expect(project.secrets.token).toEqual({ name: "proj_token", external: false, file: `${project.workingDir}/token.txt` });
    expect(project.configs.conf).toEqual({ name: "proj_conf", external: false, content: "x=1" });
  });

  test("no default network when every service has its own; build-only services get <project>-<service>; replicas", async () => {
    const { project } = await load({
      "compose.yaml": yaml(["services:", "  app:", "    build: ./app", "    scale: 3", "    networks: [n]", "  w:", "    image: busybox", "    deploy: {replicas: '2'}", "    network_mode: host", "networks: {n: {}}"]),
    }, { projectName: "p" });
    expect(project.networks.default).toBeUndefined();
    expect(project.services.app!.image).toBe("p-app");
    expect(project.services.app!.build).toEqual({ context: `${project.workingDir}/app`, dockerfile: "Dockerfile", args: {}, labels: {}, extra_hosts: [], tags: [] });
    expect([project.services.app!.replicas, project.services.w!.replicas]).toEqual([3, 2]);
  });

  test.each([
    [["  web:", "    image: busybox", "    depends_on: [db]"], 'compose.yaml:4:18: services.web.depends_on[0]: service "web" depends on undefined service "db"'],
    [["  web:", "    image: busybox", "    networks: [front]"], 'compose.yaml:4:16: services.web.networks[0]: service "web" refers to undefined network "front"'],
    [["  web:", "    image: busybox", "    volumes: ['data:/data']"], 'compose.yaml:4:15: services.web.volumes[0]: service "web" refers to undefined volume "data"'],
    [["  web:", "    image: busybox", "    secrets: [s]"], 'compose.yaml:4:15: services.web.secrets[0]: service "web" refers to undefined secret "s"'],
    [["  web:", "    image: busybox", "    configs:", "      - source: c"], 'compose.yaml:5:9: services.web.configs[0]: service "web" refers to undefined config "c"'],
    [["  web:", "    image: busybox", "    network_mode: service:nope"], 'compose.yaml:4:19: services.web.network_mode: service "web" uses the network of undefined service "nope"'],
    [["  web:", "    environment: {A: 1}"], 'compose.yaml:2:3: services.web: service "web" has neither an image nor a build context specified'],
  ])("references: %j", async (lines, message) => {
    const err = await loadError({ "compose.yaml": yaml(["services:", ...lines]) });
    expect(err.message).toBe(message);
  });

  test("positionOf answers for written values and not for defaults", async () => {
    const { project } = await load(base(["ports: ['80:80']"]));
    expect(project.positionOf(["services", "web", "ports", 0])).toEqual({ file: "compose.yaml", line: 4, col: 13 });
    expect(project.positionOf(["services", "web", "networks"])).toBeUndefined();
  });
});

describe("profiles", () => {
  const files = {
    "compose.yaml": yaml([
      "services:",
      "  web: {image: busybox}",
      "  debug: {image: busybox, profiles: [debug]}",
      "  tools: {image: busybox, profiles: [tools, ops]}",
      "  needs-debug: {image: busybox, profiles: [x], depends_on: [debug]}",
      "  soft: {image: busybox, depends_on: {debug: {condition: service_started, required: false}}}",
    ]),
  };

  test("services with profiles are left out unless a profile is enabled", async () => {
    const { project } = await load(files);
    expect(Object.keys(project.services).sort()).toEqual(["soft", "web"]);
    expect(project.disabled).toEqual({ debug: { profiles: ["debug"] }, tools: { profiles: ["tools", "ops"] }, "needs-debug": { profiles: ["x"] } });
  });

  test("--profile, COMPOSE_PROFILES, * and services named on the command line enable them", async () => {
    expect(Object.keys((await load(files, { profiles: ["ops"] })).project.services).sort()).toEqual(["soft", "tools", "web"]);
    expect(Object.keys((await load(files, { env: { COMPOSE_PROFILES: "debug,ops" } })).project.services).sort()).toEqual(["debug", "soft", "tools", "web"]);
    expect(Object.keys((await load(files, { profiles: ["*"] })).project.services).sort()).toEqual(["debug", "needs-debug", "soft", "tools", "web"]);
    expect(Object.keys((await load(files, { services: ["tools"] })).project.services).sort()).toEqual(["soft", "tools", "web"]);
  });

  test("a required dependency on a disabled service is an error", async () => {
    const err = await loadError(files, { profiles: ["x"] });
    expect(err.message).toBe('compose.yaml:5:61: services.needs-debug.depends_on[0]: service "needs-debug" depends on service "debug", which is disabled by its profiles (debug)');
    expect(err.hint).toBe("enable it with --profile debug, or set required: false");
  });

  test("naming a service that does not exist is NotFound", async () => {
    const err = await loadError(files, { services: ["nope"] });
    expect([err.kind, err.message]).toEqual(["NotFound", "no such service: nope"]);
  });
});

describe("project name", () => {
  const files = { "compose.yaml": yaml(["name: from-file", "services:", "  web: {image: busybox}"]) };

  test("-p, then COMPOSE_PROJECT_NAME (also from .env), then name:, then the directory", async () => {
    expect((await load(files, { projectName: "flag" })).project.name).toBe("flag");
    expect((await load(files, { env: { COMPOSE_PROJECT_NAME: "env" } })).project.name).toBe("env");
    expect((await load({ ...files, ".env": "COMPOSE_PROJECT_NAME=dotenv\n" })).project.name).toBe("dotenv");
    expect((await load(files)).project.name).toBe("from-file");
    const { project } = await load({ "My App.v2/compose.yaml": yaml(["services:", "  web: {image: busybox}"]) }, { files: ["My App.v2/compose.yaml"] });
    expect(project.name).toBe("myappv2");
  });

  test.each([["-p", { projectName: "Bad" }], ["COMPOSE_PROJECT_NAME", { env: { COMPOSE_PROJECT_NAME: "_x" } }]])("an invalid %s is an error", async (_, opts) => {
    const err = await loadError(files, opts as LoadOptions);
    expect(err.message).toMatch(/is not a valid project name: it must contain only characters from \[a-z0-9_-\] and start with \[a-z0-9\]$/);
  });
});

describe("finding files", () => {
  test("compose.yaml in a parent directory, with its override; working dir is the file's", async () => {
    const dir = tree({
      "compose.yaml": yaml(["services:", "  web: {image: base, build: ./ctx}"]),
      "compose.override.yaml": yaml(["services:", "  web: {image: over}"]),
      "sub/deeper/.keep": "",
    });
    const { project } = await loadProject({ env: {}, cwd: join(dir, "sub/deeper") });
    expect(project.files).toEqual([join(dir, "compose.yaml"), join(dir, "compose.override.yaml")]);
    expect(project.workingDir).toBe(dir);
    expect(project.services.web!.image).toBe("over");
    expect(project.services.web!.build!.context).toBe(join(dir, "ctx"));
  });

  test("COMPOSE_FILE, docker-compose.yml, stdin, --project-directory", async () => {
    const dir = tree({ "a.yaml": yaml(["services:", "  a: {image: a}"]), "b.yaml": yaml(["services:", "  b: {image: b}"]), "old/docker-compose.yml": yaml(["services:", "  old: {image: old}"]) });
    expect(Object.keys((await loadProject({ env: { COMPOSE_FILE: "a.yaml:b.yaml" }, cwd: dir })).project.services)).toEqual(["a", "b"]);
    expect(Object.keys((await loadProject({ env: {}, cwd: join(dir, "old") })).project.services)).toEqual(["old"]);
    const { project } = await loadProject({ env: {}, cwd: dir, files: ["-"], stdin: yaml(["services:", "  s: {image: s, build: ./x}"]), projectDirectory: "old" });
    expect([project.workingDir, project.services.s!.build!.context]).toEqual([join(dir, "old"), join(dir, "old/x")]);
  });

  test("no file is NotFound with Docker's words; a missing -f too", async () => {
    const dir = tree({ ".keep": "" });
    await expect(loadProject({ env: {}, cwd: dir })).rejects.toMatchObject({ kind: "NotFound", message: "no configuration file provided: not found" });
    await expect(loadProject({ env: {}, cwd: dir, files: ["nope.yaml"] })).rejects.toMatchObject({ kind: "NotFound", message: "open nope.yaml: no such file or directory" });
  });
});

describe("merge (-f files)", () => {
  const files = {
    "compose.yaml": yaml([
      "services:",
      "  web:",
      "    image: base",
      "    command: [echo, base]",
      "    environment: [A=1, B=2]",
      "    labels: {l1: a}",
      "    ports: ['8080:80', '9090:90']",
      "    volumes: ['./a:/data', 'cache:/cache']",
      "    dns: [1.1.1.1]",
      "    cap_add: [NET_ADMIN]",
      "    healthcheck: {test: [CMD, base], interval: 10s}",
      "    depends_on: [db]",
      "    networks: {front: {aliases: [w]}}",
      "    build: ./ctx",
      "    logging: {driver: json-file, options: {max-size: 1m}}",
      "    extra_hosts: ['h1:1.1.1.1']",
      "    secrets: [s]",
      "  db: {image: db}",
      "  other: {image: o, ports: ['1:1'], expose: ['80']}",
      "networks: {front: {}, back: {}}",
      "volumes: {cache: {}}",
      "secrets: {s: {file: ./s}}",
    ]),
    "override.yaml": yaml([
      "services:",
      "  web:",
      "    image: over",
      "    command: [echo, over]",
      "    environment: {B: two, C: '3'}",
      "    labels: [l2=b]",
      "    ports: ['8080:80', '7070:70']",
      "    volumes: ['./b:/data:ro']",
      "    dns: [1.1.1.1, 8.8.8.8]",
      "    cap_add: [SYS_ADMIN]",
      "    healthcheck: {test: [CMD, over]}",
      "    depends_on: {db: {condition: service_healthy}}",
      "    networks: [front, back]",
      "    build: {dockerfile: Other}",
      "    logging: {driver: local}",
      "    extra_hosts: {h2: 2.2.2.2}",
      "    secrets: [{source: s, target: /run/secrets/s, mode: 0400}]",
      "  other:",
      "    ports: !reset []",
      "    expose: !override ['81']",
      "  db:",
      "    image: !reset null",
      "    build: .",
    ]),
  };

  test("each key class by its rule", async () => {
    const { project, dir } = await load(files, { files: ["compose.yaml", "override.yaml"] });
    const web = project.services.web!;
    expect(web.image).toBe("over");
    expect(web.command).toEqual(["echo", "over"]);
    expect(web.environment).toEqual({ A: "1", B: "two", C: "3" });
    expect(web.labels).toEqual({ l1: "a", l2: "b" });
    expect(web.ports.map((p) => `${p.published}:${p.target}`)).toEqual(["8080:80", "9090:90", "7070:70"]);
    expect(web.volumes).toEqual([
      { type: "bind", source: `${dir}/b`, target: "/data", read_only: true, bind: { create_host_path: true } },
      { type: "volume", source: "cache", target: "/cache" },
    ]);
    expect(web.dns).toEqual(["1.1.1.1", "8.8.8.8"]);
    expect(web.cap_add).toEqual(["NET_ADMIN", "SYS_ADMIN"]);
    expect(web.healthcheck).toEqual({ test: ["CMD", "over"], interval: 10e9 });
    expect(web.depends_on.db!.condition).toBe("service_healthy");
    expect(web.networks).toEqual({ front: { aliases: ["w"] }, back: {} });
    expect(web.build).toMatchObject({ context: `${dir}/ctx`, dockerfile: "Other" });
    expect(web.logging).toEqual({ driver: "local", options: {} });
    expect(web.extra_hosts).toEqual(["h1:1.1.1.1", "h2:2.2.2.2"]);
    expect(web.secrets).toEqual([{ source: "s", target: "/run/secrets/s", mode: 0o400 }]);
    expect(project.services.other!.ports).toEqual([]);
    expect(project.services.other!.expose).toEqual(["81"]);
    expect(project.services.db!.image).toBe(`${project.name}-db`);
  });

  test("positions point into the file that gave the value", async () => {
    const { project } = await load(files, { files: ["compose.yaml", "override.yaml"] });
    expect(project.positionOf(["services", "web", "image"])).toEqual({ file: "override.yaml", line: 3, col: 12 });
    expect(project.positionOf(["services", "web", "ports", 1])).toEqual({ file: "compose.yaml", line: 7, col: 24 });
    expect(project.positionOf(["services", "web", "ports", 2])).toEqual({ file: "override.yaml", line: 7, col: 24 });
  });

  test("!reset in a single file just removes the key", async () => {
    const { project } = await load({ "compose.yaml": yaml(["services:", "  web:", "    image: busybox", "    ports: !reset ['80']"]) });
    expect(project.services.web!.ports).toEqual([]);
  });
});

describe("extends", () => {
  test("same file and across files; the other file's relative paths stay its own", async () => {
    const { project, dir } = await load({
      "compose.yaml": yaml([
        "services:",
        "  base: {image: busybox, environment: {A: '1'}, command: [base]}",
        "  mid: {extends: base, environment: {B: '2'}}",
        "  web: {extends: {service: mid}, command: [web]}",
        "  remote:",
        "    extends: {file: lib/common.yaml, service: shared}",
        "    environment: {OWN: x}",
      ]),
      "lib/common.yaml": yaml(["services:", "  shared:", "    build: ./ctx", "    env_file: shared.env", "    volumes: ['./data:/data']"]),
      "lib/shared.env": "FROM_SHARED=1\n",
    });
    expect(project.services.web!.environment).toEqual({ A: "1", B: "2" });
    expect(project.services.web!.command).toEqual(["web"]);
    expect(project.services.mid!.command).toEqual(["base"]);
    const remote = project.services.remote!;
    expect(remote.build!.context).toBe(`${dir}/lib/ctx`);
    expect(remote.environment).toEqual({ FROM_SHARED: "1", OWN: "x" });
    expect(remote.volumes[0]!.source).toBe(`${dir}/lib/data`);
    expect(project.positionOf(["services", "remote", "build"])).toEqual({ file: "lib/common.yaml", line: 3, col: 12 });
  });

  test("cycles and missing services are errors at the extends", async () => {
    const cycle = await loadError({ "compose.yaml": yaml(["services:", "  a: {image: x, extends: b}", "  b: {extends: c}", "  c: {extends: a}"]) });
    expect(cycle.message).toBe("compose.yaml:2:26: services.a.extends: circular reference: a -> b -> c -> a");
    const missing = await loadError({ "compose.yaml": yaml(["services:", "  a:", "    image: x", "    extends: {file: other.yaml, service: nope}"]), "other.yaml": yaml(["services:", "  b: {image: x}"]) });
    expect(missing.message).toMatch(/^compose\.yaml:4:14: services\.a\.extends: service "nope" not found in \/tmp\/.*\/other\.yaml$/);
  });
});

describe("include", () => {
  test("an included project's resources are added, its paths and .env its own", async () => {
    const { project, dir } = await load({
      "compose.yaml": yaml(["include:", "  - sub/compose.yaml", "services:", "  web: {image: busybox, depends_on: [kv], networks: [shared]}"]),
      "sub/compose.yaml": yaml(["services:", "  kv:", "    image: kv:${KV_TAG}", "    build: ./kv", "    networks: [shared]", "networks:", "  shared: {}"]),
      "sub/.env": "KV_TAG=7\n",
    });
    expect(Object.keys(project.services).sort()).toEqual(["kv", "web"]);
    expect(project.services.kv!.image).toBe("kv:7");
    expect(project.services.kv!.build!.context).toBe(`${dir}/sub/kv`);
    expect(project.networks.shared!.name).toBe(`${project.name}_shared`);
  });

  test("a resource defined in both files is an error naming both", async () => {
    const err = await loadError({
      "compose.yaml": yaml(["include:", "  - path: [sub/compose.yaml]", "services:", "  web: {image: busybox}"]),
      "sub/compose.yaml": yaml(["services:", "  web: {image: other}"]),
    });
    expect(err.message).toBe("compose.yaml:4:8: services.web is defined in this file and in the included sub/compose.yaml:2:8");
  });

  test("include cycles are errors", async () => {
    const err = await loadError({ "compose.yaml": yaml(["include: [a.yaml]", "services: {}"]), "a.yaml": yaml(["include: [compose.yaml]", "services: {}"]) });
    expect(err.message).toMatch(/^include cycle: .*compose\.yaml -> .*a\.yaml -> .*compose\.yaml$/);
  });
});

describe("print", () => {
  test("Go durations", () => {
    expect([0, 500e6, 10e9, 90e9, 3600e9, 1.5e9, 3723e9, 1500].map(goDuration)).toEqual(["0s", "500ms", "10s", "1m30s", "1h0m0s", "1.5s", "1h2m3s", "1.5µs"]);
  });

  test("a real-world file round-trips through formatConfig", async () => {
    const files = {
      "compose.yaml": yaml([
        "name: shop",
        "x-logging: &logging",
        "  driver: json-file",
        "  options: {max-size: 10m, max-file: '3'}",
        "services:",
        "  web:",
        "    build: {context: ./web, args: [NODE_ENV=production]}",
        "    ports: ['80:8080', '127.0.0.1:9229:9229']",
        "    environment:",
        "      API_URL: http://api:3000",
        "      SECRET: ${SECRET:-dev}",
        "    depends_on:",
        "      api: {condition: service_healthy}",
        "    logging: *logging",
        "    restart: unless-stopped",
        "  api:",
        "    image: node:20-alpine",
        "    command: node server.js",
        "    working_dir: /app",
        "    volumes: ['./api:/app:ro', 'node_modules:/app/node_modules']",
        "    healthcheck:",
        "      test: wget -qO- localhost:3000/health",
        "      interval: 30s",
        "      timeout: 5s",
        "      retries: 3",
        "    depends_on: [db, cache]",
        "    networks: [default, backend]",
        "    secrets: [db_password]",
        "    stop_grace_period: 1m30s",
        "    mem_limit: 512m",
        "    logging: *logging",
        "  db:",
        "    image: postgres:16",
        "    environment: [POSTGRES_PASSWORD_FILE=/run/secrets/db_password]",
        "    volumes: [pgdata:/var/lib/postgresql/data]",
        "    networks: [backend]",
        "    secrets: [db_password]",
        "    tmpfs: [/run]",
        "    ulimits: {nofile: 65536}",
        "  cache:",
        "    image: redis:7",
        "    networks: {backend: {aliases: [redis]}}",
        "    deploy: {replicas: 2, resources: {limits: {cpus: '0.5'}}}",
        "  debug:",
        "    image: busybox",
        "    profiles: [debug]",
        "networks:",
        "  backend: {driver: bridge, ipam: {config: [{subnet: 172.28.0.0/16}]}}",
        "volumes:",
        "  pgdata: {}",
        "  node_modules: {}",
        "secrets:",
        "  db_password: {file: ./secrets/db.txt}",
      ]),
    };
    const { project, dir } = await load(files);
    const printed = formatConfig(project, "yaml");
    expect(printed.startsWith("name: shop\nservices:\n  api:\n")).toBe(true);
    expect(printed).toContain("      interval: 30s\n");
    expect(printed).toContain("    stop_grace_period: 1m30s\n");
    expect(printed).not.toContain("debug");
    expect(printed).not.toContain("positionOf");
    const again = await loadProject({ env: {}, cwd: dir, files: ["-"], stdin: printed });
    expect(formatConfig(again.project, "yaml")).toBe(printed);
    const json = JSON.parse(formatConfig(project, "json"));
    expect(Object.keys(json)).toEqual(["name", "services", "networks", "volumes", "secrets"]);
    expect(json.services.api.command).toEqual(["node", "server.js"]);
    expect(json.services.api.deploy).toEqual({ resources: { limits: { memory: String(512 * 1024 * 1024) } } });
    expect(json.services.cache.scale).toBe(2);
    expect(json.services.db.networks).toEqual({ backend: null });
  });
});

describe("develop.watch", () => {
  test("rules are normalized: absolute paths, ignore/include lists, exec commands", async () => {
    const { project, dir } = await load({
      "compose.yaml": yaml([
        "services:",
        "  web:",
        "    image: busybox",
        "    develop:",
        "      watch:",
        "        - {path: ./src, action: sync, target: /app, ignore: [node_modules/], initial_sync: true}",
        "        - {path: package.json, action: rebuild}",
        "        - {path: ./conf, action: sync+exec, target: /etc/app, include: '*.conf', exec: {command: reload --now, user: app, environment: [A=1]}}",
      ]),
    });
    expect(project.services.web!.develop!.watch).toEqual([
      { action: "sync", path: `${dir}/src`, target: "/app", ignore: ["node_modules/"], include: [], initial_sync: true },
      { action: "rebuild", path: `${dir}/package.json`, ignore: [], include: [] },
      { action: "sync+exec", path: `${dir}/conf`, target: "/etc/app", ignore: [], include: ["*.conf"], exec: { command: ["reload", "--now"], user: "app", environment: { A: "1" } } },
    ]);
  });

  test.each([
    ["{path: ./src, action: sync}", /compose\.yaml:6:33: .*a sync rule needs a target/],
    ["{path: ./src, action: sync, target: app}", /compose\.yaml:6:47: .*target "app" is not an absolute path/],
    ["{path: ./src, action: sync+exec, target: /app}", /a sync\+exec rule needs exec/],
    ["{path: ./src, action: restart, exec: {command: x}}", /exec is for sync\+exec rules, this one is restart/],
    ["{path: ./src, action: copy}", /compose\.yaml:6:33: .*action/],
  ])("%s is refused with its position", async (rule, message) => {
    const err = await loadError({ "compose.yaml": yaml(["services:", "  web:", "    image: busybox", "    develop:", "      watch:", `        - ${rule}`]) });
    expect(err.message).toMatch(message);
  });
});
