// Many clients at once against one berthd: 50 concurrent `run -d` all
// succeed with unique ids and names, a name clash loses cleanly with
// Docker's Conflict message, and concurrent removals leave nothing behind.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(() => expect(leaks(t)).toEqual([]));
afterAll(() => removeRoot(t));

const lines = (s: string) => s.split("\n").filter(Boolean);

describe("concurrent clients", () => {
  test("50 concurrent run -d: all succeed, ids and names unique, all running; 50 concurrent rm -f remove them all", async () => {
    const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => berth(t, ["run", "-d", "--name", `many-${i}`, "bb", "sleep", "1000"])));
    for (const [i, r] of runs.entries()) {
      expect(r.code, `many-${i}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    }
    const ids = runs.map((r) => r.stdout.trim());
    expect(new Set(ids).size).toBe(50);
    const ps = lines((await berth(t, ["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}"])).stdout);
    expect(ps).toHaveLength(50);
    const byId = new Map(ps.map((l) => l.split(" ") as [string, string, string]).map(([id, name, state]) => [id, { name, state }]));
    for (const [i, id] of ids.entries()) expect(byId.get(id)).toEqual({ name: `many-${i}`, state: "running" });
    // Every container has its own pid namespace: each sleep is PID 1 of its own.
    const pids = lines((await berth(t, ["inspect", "-f", "{{.State.Pid}}", ...ids])).stdout);
    expect(new Set(pids).size).toBe(50);

    const removals = await Promise.all(ids.map((id) => berth(t, ["rm", "-f", id])));
    for (const r of removals) expect(r.code, r.stderr).toBe(0);
    expect((await berth(t, ["ps", "-aq"])).stdout).toBe("");
  }, 120_000);

  test("the same name from 10 clients at once: exactly one wins, the others get Docker's Conflict error and leave nothing", async () => {
    const runs = await Promise.all(Array.from({ length: 10 }, () => berth(t, ["run", "-d", "--name", "contested", "bb", "sleep", "1000"])));
    const won = runs.filter((r) => r.code === 0);
    expect(won).toHaveLength(1);
    const winner = won[0]!.stdout.trim();
    for (const r of runs.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`Conflict. The container name "/contested" is already in use by container "${winner}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    expect(lines((await berth(t, ["ps", "-a", "--no-trunc", "-q"])).stdout)).toEqual([winner]);
    expect((await berth(t, ["rm", "-f", "contested"])).code).toBe(0);
  }, 60_000);
});
