// Restart policies (with Docker's back-off) and healthchecks, through berthd.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { berth, busyboxTar, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterEach(async () => {
  const ids = (await berth(t, ["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
  if (ids.length) await berth(t, ["rm", "-f", ...ids]);
  expect(leaks(t)).toEqual([]);
});
afterAll(() => removeRoot(t));

const inspect = async (name: string, format: string) => (await berth(t, ["inspect", "-f", format, name])).stdout.trim();
async function until(what: string, check: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe("restart policies", () => {
  test("on-failure:2 restarts a failing container twice, then leaves it exited", async () => {
    expect((await berth(t, ["run", "-d", "--name", "flaky", "--restart", "on-failure:2", "bb", "sh", "-c", "exit 3"])).code).toBe(0);
    await until("two restarts and a final exit", async () => (await inspect("flaky", "{{.RestartCount}} {{.State.Status}}")) === "2 exited");
    await Bun.sleep(800); // no third one
    expect(await inspect("flaky", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}")).toBe("2 exited 3");
    expect(await inspect("flaky", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}")).toBe("on-failure:2");
  });

  test("on-failure does not restart a clean exit; no (the default) never restarts", async () => {
    await berth(t, ["run", "-d", "--name", "clean", "--restart", "on-failure", "bb", "true"]);
    await berth(t, ["run", "-d", "--name", "never", "bb", "sh", "-c", "exit 1"]);
    await Bun.sleep(800);
    expect(await inspect("clean", "{{.RestartCount}} {{.State.Status}}")).toBe("0 exited");
    expect(await inspect("never", "{{.RestartCount}} {{.State.Status}}")).toBe("0 exited");
  });

  test("always restarts with a back-off that grows, and stop ends it", async () => {
    const since = (Date.now() / 1000).toFixed(3);
    await berth(t, ["run", "-d", "--name", "loop", "--restart", "always", "bb", "true"]);
    await until("four restarts", async () => Number(await inspect("loop", "{{.RestartCount}}")) >= 4);
    const ev = await berth(t, ["events", "--since", since, "--until", (Date.now() / 1000).toFixed(3), "--filter", "container=loop", "--filter", "event=start", "--format", "{{.timeNano}}"]);
    const starts = ev.stdout.trim().split("\n").map(Number);
    expect(starts.length).toBeGreaterThanOrEqual(4);
    const gaps = starts.slice(1).map((s, i) => (s - starts[i]!) / 1e6);
    // 100 ms, 200 ms, 400 ms, ... (plus the time to start)
    expect(gaps[1]!).toBeGreaterThan(gaps[0]! * 1.3);
    expect(gaps[0]!).toBeGreaterThanOrEqual(90);
    expect((await berth(t, ["stop", "loop"])).code).toBe(0);
    const count = Number(await inspect("loop", "{{.RestartCount}}"));
    await Bun.sleep(1000);
    expect(await inspect("loop", "{{.RestartCount}} {{.State.Running}}")).toBe(`${count} false`);
  });

  test("--restart and --rm conflict, and a bad policy is refused", async () => {
    const both = await berth(t, ["run", "--rm", "--restart", "always", "bb", "true"]);
    expect(both.code).toBe(125);
    expect(both.stderr).toContain("Conflicting options: --restart and --rm");
    const bad = await berth(t, ["run", "--restart", "sometimes", "bb", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("invalid restart policy");
  });
});

describe("healthchecks", () => {
  test("--health-cmd: starting, then unhealthy after the retries, then healthy; in inspect and events", async () => {
    const since = (Date.now() / 1000).toFixed(3);
    await berth(t, ["run", "-d", "--name", "doc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "150ms", "--health-retries", "2", "bb", "sleep", "30"]);
    expect(await inspect("doc", "{{.State.Health.Status}}")).toBe("starting");
    await until("unhealthy", async () => (await inspect("doc", "{{.State.Health.Status}}")) === "unhealthy");
    expect(Number(await inspect("doc", "{{.State.Health.FailingStreak}}"))).toBeGreaterThanOrEqual(2);
    expect((await berth(t, ["ps", "--format", "{{.Status}}"])).stdout).toMatch(/^Up .* \(unhealthy\)$/m);
    await berth(t, ["exec", "doc", "touch", "/tmp/ok"]);
    await until("healthy", async () => (await inspect("doc", "{{.State.Health.Status}}")) === "healthy");
    const log = JSON.parse(await inspect("doc", "{{json .State.Health.Log}}"));
    expect(log.length).toBeLessThanOrEqual(5);
    expect(log[log.length - 1]).toMatchObject({ ExitCode: 0 });
    const ev = await berth(t, ["events", "--since", since, "--until", (Date.now() / 1000).toFixed(3), "--filter", "container=doc", "--format", "{{.Action}}"]);
    expect(ev.stdout).toContain("health_status: unhealthy\n");
    expect(ev.stdout).toContain("health_status: healthy\n");
  });

  test("the image's HEALTHCHECK applies; --no-healthcheck turns it off; a slow check times out", async () => {
    await berth(t, ["import", "-c", 'CMD ["sh"]', "-c", "HEALTHCHECK --interval=100ms --timeout=200ms --retries=1 CMD sleep 5", await busyboxTar(), "hc"]);
    await berth(t, ["run", "-d", "--name", "slow", "hc", "sleep", "30"]);
    await until("unhealthy by timeout", async () => (await inspect("slow", "{{.State.Health.Status}}")) === "unhealthy");
    const log = JSON.parse(await inspect("slow", "{{json .State.Health.Log}}"));
    expect(log[0]).toMatchObject({ ExitCode: -1, Output: "Health check exceeded timeout (0.2s)" });
    await berth(t, ["run", "-d", "--name", "nocheck", "--no-healthcheck", "hc", "sleep", "30"]);
    expect(await inspect("nocheck", "{{if .State.Health}}has{{else}}none{{end}}")).toBe("none");
    await berth(t, ["rm", "-f", "slow", "nocheck"]);
    await berth(t, ["rmi", "hc"]);
  });
});
