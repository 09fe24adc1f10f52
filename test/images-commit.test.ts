// commit (berth's and docker's CLI) and the content store's garbage
// collection at daemon start.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { berth, docker, importBusybox, leaks, makeRoot, removeRoot, stopDaemon, type TestRoot } from "./helpers/berth.ts";

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

async function ok(args: string[]): Promise<string> {
  const r = await berth(t, args);
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe("commit", () => {
  test("a container's added, changed and deleted files become a layer; --change and -m shape the image", async () => {
    await ok(["run", "--name", "work", "bb", "sh", "-c", "echo hello > /hello; echo more >> /etc/passwd; rm /bin/ed; mkdir -p /srv/a/b; echo deep > /srv/a/b/f"]);
    const id = (await ok(["commit", "-m", "made by a test", "-a", "tester", "-c", 'CMD ["cat", "/hello"]', "-c", "ENV GREETING=hi", "work", "committed:v1"])).trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await ok(["run", "--rm", "committed:v1"])).toBe("hello\n");
    const r = await ok(["run", "--rm", "committed:v1", "sh", "-c", 'tail -1 /etc/passwd; test -e /bin/ed && echo ed-there || echo ed-gone; cat /srv/a/b/f; echo $GREETING']);
    expect(r).toBe("more\ned-gone\ndeep\nhi\n");
    const img = JSON.parse(await ok(["image", "inspect", "committed:v1"]))[0];
    expect(img.RootFS.Layers).toHaveLength(2);
    expect(img.Author).toBe("tester");
    expect(img.Comment).toBe("made by a test");
    // berth's own /etc files are not part of the commit.
    expect(await ok(["run", "--rm", "--hostname", "other", "committed:v1", "cat", "/etc/hostname"])).toBe("other\n");
    await ok(["rm", "work"]);
    await ok(["rmi", "committed:v1"]);
  });

  test("a running container is committed while frozen, and keeps running; the docker CLI commits too", async () => {
    await ok(["run", "-d", "--name", "live", "bb", "sh", "-c", "echo state > /state; exec sleep 1000"]);
    for (let i = 0; i < 50 && (await berth(t, ["exec", "live", "cat", "/state"])).code !== 0; i++) await Bun.sleep(50);
    const d = await docker(t, ["commit", "live", "snap:1"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    expect((await ok(["inspect", "-f", "{{.State.Status}}", "live"])).trim()).toBe("running");
    expect(await ok(["run", "--rm", "snap:1", "cat", "/state"])).toBe("state\n");
    await ok(["rm", "-f", "live"]);
    await ok(["rmi", "snap:1"]);
  });
});

describe("garbage collection", () => {
  test("at daemon start, blobs and layers no image uses (an interrupted pull) are removed; the images' own stay", async () => {
    const blobs = () => readdirSync(`${t.root}/blobs/sha256`).sort();
    const layers = () => readdirSync(`${t.root}/layers/overlay`).filter((n) => /^[a-f0-9]{64}$/.test(n)).sort();
    const blobsBefore = blobs();
    const layersBefore = layers();
    await stopDaemon(t);
    const stray = "f".repeat(64);
    writeFileSync(`${t.root}/blobs/sha256/${stray}`, "half a pull");
    mkdirSync(`${t.root}/layers/overlay/${stray}/diff`, { recursive: true });
    writeFileSync(`${t.root}/layers/overlay/${stray}/lower`, "");
    writeFileSync(`${t.root}/blobs/ingest/partial`, "a download cut short");
    await ok(["version"]); // a new daemon
    expect(blobs()).toEqual(blobsBefore);
    expect(layers()).toEqual(layersBefore);
    expect(readdirSync(`${t.root}/blobs/ingest`)).toEqual([]);
    expect(await ok(["run", "--rm", "bb", "echo", "still runs"])).toBe("still runs\n");
  });
});
