// The same compose stack (compose-examples/web-api-kv: its images built from
// busybox, a volume, health-ordered start, a published port) under each
// storage driver: it comes up, serves, comes down, and leaves nothing.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServer } from "node:net";
import { berth, importBusybox, leaks, makeRoot, processesMatching, removeRoot, REPO, type TestRoot } from "./helpers/berth.ts";

const file = `${REPO}/compose-examples/web-api-kv/compose.yaml`;
const services = ["web-api-kv-kv-1", "web-api-kv-api-1", "web-api-kv-web-1"];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe.each(["overlay", "fuse-overlay", "vfs"])("web-api-kv on the %s storage driver", (driver) => {
  let t: TestRoot;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = makeRoot(["--storage-driver", driver]);
    await importBusybox(t, "busybox:latest");
    env = { WEB_PORT: String(await freePort()) };
  }, 120_000);
  afterAll(() => removeRoot(t));
  const compose = (args: string[]) => berth(t, ["compose", "-f", file, ...args], { env });

  test("up builds and starts the stack on this driver, and the page counts visits", async () => {
    const up = await compose(["up", "-d", "--wait"]);
    expect(up.code, up.stderr).toBe(0);
    const drivers = await berth(t, ["inspect", "-f", "{{.GraphDriver.Name}}", ...services]);
    expect(drivers.stdout.trim().split("\n")).toEqual([driver, driver, driver]);
    const page1 = await (await fetch(`http://127.0.0.1:${env.WEB_PORT}/`)).text();
    expect(page1).toContain('"visits":1');
    const page2 = await (await fetch(`http://127.0.0.1:${env.WEB_PORT}/`)).text();
    expect(page2).toContain('"visits":2');
  }, 180_000);

  test("down -v removes it all: no container, volume, mount or driver process is left", async () => {
    const down = await compose(["down", "-v"]);
    expect(down.code, down.stderr).toBe(0);
    expect((await berth(t, ["ps", "-aq"])).stdout).toBe("");
    expect((await berth(t, ["volume", "ls", "-q"])).stdout).toBe("");
    expect(leaks(t)).toEqual([]);
    expect(processesMatching(`${t.root}/layers/`)).toEqual([]);
  }, 60_000);
});
