// Container logs as berthd keeps them: Docker's json-file format on disk,
// rotated by default and per container with --log-opt; read back by `logs`.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { existsSync, readFileSync, statSync } from "node:fs";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

describe("json-file logs", () => {
  test("the log on disk is Docker's json-file format, one entry per line, per stream", async () => {
    await berth(t, ["run", "--name", "talker", "bb", "sh", "-c", 'echo out; echo err >&2; printf "no newline"']);
    const path = (await berth(t, ["inspect", "-f", "{{.LogPath}}", "talker"])).stdout.trim();
    expect(path).toBe(`${t.root}/containers/${(await berth(t, ["inspect", "-f", "{{.Id}}", "talker"])).stdout.trim()}/${path.split("/").pop()}`);
    const entries = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(entries.map((e) => [e.stream, e.log])).toEqual([["stdout", "out\n"], ["stderr", "err\n"], ["stdout", "no newline"]]);
    for (const e of entries) expect(e.time).toMatch(TIME);
    expect(Object.keys(entries[0])).toEqual(["log", "stream", "time"]);
    const cfg = JSON.parse((await berth(t, ["inspect", "-f", "{{json .HostConfig.LogConfig}}", "talker"])).stdout);
    expect(cfg).toEqual({ Type: "json-file", Config: { "max-size": "20m", "max-file": "5" } });
    await berth(t, ["rm", "talker"]);
  });

  test("--log-opt max-size and max-file rotate the log", async () => {
    await berth(t, ["run", "--name", "chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "bb", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done"]);
    const path = (await berth(t, ["inspect", "-f", "{{.LogPath}}", "chatty"])).stdout.trim();
    expect([existsSync(path), existsSync(`${path}.1`), existsSync(`${path}.2`), existsSync(`${path}.3`)]).toEqual([true, true, true, false]);
    for (const p of [path, `${path}.1`, `${path}.2`]) expect(statSync(p).size).toBeLessThanOrEqual(2048);
    // What is kept is the newest output, in order, and `logs` reads across the files.
    const lines = (await berth(t, ["logs", "chatty"])).stdout.trim().split("\n");
    expect(lines[lines.length - 1]).toBe("line-199");
    const nums = lines.map((l) => Number(l.slice(5)));
    expect(nums).toEqual(nums.map((_, i) => nums[0]! + i));
    await berth(t, ["rm", "chatty"]);
  });

  test("a bad log option is refused at create", async () => {
    const r = await berth(t, ["run", "--log-opt", "max-size=lots", "bb", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("invalid max-size 'lots'");
  });

  test("logs --tail, --timestamps, --since and stream selection", async () => {
    await berth(t, ["run", "--name", "seq", "bb", "sh", "-c", "echo a; echo b >&2; echo c"]);
    expect((await berth(t, ["logs", "--tail", "2", "seq"])).stdout).toBe("c\n");
    const ts = (await berth(t, ["logs", "-t", "seq"])).stdout.trim().split("\n");
    for (const l of ts) expect(l.split(" ")[0]).toMatch(TIME);
    expect((await berth(t, ["logs", "--since", "1h", "seq"])).stdout).toBe("a\nc\n");
    const r = await berth(t, ["logs", "seq"]);
    expect([r.stdout, r.stderr]).toEqual(["a\nc\n", "b\n"]);
    expect((await berth(t, ["logs", "--since", String(Date.now() / 1000 + 60), "seq"])).stdout).toBe("");
    await berth(t, ["rm", "seq"]);
  });
});
