// Owners: every container, image, network and volume records who created
// it (a unix client's uid, a TLS client's certificate CN), shown in inspect
// as "Owner". With berthd --owner-scope two real unprivileged users (in the
// -G group) each see only their own objects: lists filter, others' objects
// answer 404 as if absent; images are usable by all but removable only by
// who brought them in; root sees everything.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { asUser, curlAs, makeGroup, makeUser, removeGroup, removeUser, startBerthd, type TestUser } from "./helpers/daemon.ts";

let group: { name: string; gid: number };
let alice: TestUser;
let bob: TestUser;
const tag = Math.random().toString(36).slice(2, 8);

beforeAll(() => {
  group = makeGroup();
  alice = makeUser(group.gid);
  bob = makeUser(group.gid);
});
afterAll(() => {
  removeUser(alice);
  removeUser(bob);
  removeGroup(group.name);
});

/** A request as `u`: [status, parsed JSON body (or the text)]. */
async function as(u: TestUser, t: TestRoot, method: string, path: string, body?: unknown): Promise<[number, any]> {
  const [status, text] = await curlAs(u, t.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
  try {
    return [status, JSON.parse(text)];
  } catch {
    return [status, text];
  }
}

const ownerOf = (u: TestUser) => ({ Uid: u.uid, User: u.name });

describe("with --owner-scope", () => {
  let t: TestRoot;
  const a = `a-${tag}`;
  const b = `b-${tag}`;
  beforeAll(async () => {
    t = makeRoot();
    await startBerthd(t, ["-G", group.name, "--owner-scope"]);
    await importBusybox(t); // as root
    // Alice's objects: a container, a volume, a network, an image (her commit).
    expect((await as(alice, t, "POST", `/containers/create?name=${a}`, { Image: "bb", Cmd: ["sleep", "60"] }))[0]).toBe(201);
    expect((await as(alice, t, "POST", `/containers/${a}/start`))[0]).toBe(204);
    expect((await as(alice, t, "POST", "/volumes/create", { Name: `av-${tag}` }))[0]).toBe(201);
    expect((await as(alice, t, "POST", "/networks/create", { Name: `an-${tag}` }))[0]).toBe(201);
    expect((await as(alice, t, "POST", `/commit?container=${a}&repo=alice-img-${tag}&tag=v1`))[0]).toBe(201);
    // Bob's container.
    expect((await as(bob, t, "POST", `/containers/create?name=${b}`, { Image: "bb", Cmd: ["true"] }))[0]).toBe(201);
  });
  afterAll(async () => {
    await removeRoot(t);
    expect(leaks(t)).toEqual([]);
  });

  test("inspect shows who created each object; root's import is root's", async () => {
    expect((await as(alice, t, "GET", `/containers/${a}/json`))[1].Owner).toEqual(ownerOf(alice));
    expect((await as(alice, t, "GET", `/volumes/av-${tag}`))[1].Owner).toEqual(ownerOf(alice));
    expect((await as(alice, t, "GET", `/networks/an-${tag}`))[1].Owner).toEqual(ownerOf(alice));
    expect((await as(alice, t, "GET", `/images/alice-img-${tag}:v1/json`))[1].Owner).toEqual(ownerOf(alice));
    expect((await as(bob, t, "GET", `/containers/${b}/json`))[1].Owner).toEqual(ownerOf(bob));
    const bb = JSON.parse((await berth(t, ["image", "inspect", "bb"])).stdout)[0];
    expect(bb.Owner).toEqual({ Uid: 0, User: "root" });
    // Kept in the state database: a restarted daemon still knows.
    const c = JSON.parse((await berth(t, ["inspect", a])).stdout)[0];
    expect(c.Owner).toEqual(ownerOf(alice));
    expect(c.Config.Labels ?? {}).toEqual({}); // not a label
  });

  test("lists show a user only their own (and the predefined networks, and every image)", async () => {
    const names = (list: { Names: string[] }[]) => list.flatMap((c) => c.Names);
    expect(names((await as(bob, t, "GET", "/containers/json?all=1"))[1])).toEqual([`/${b}`]);
    expect(names((await as(alice, t, "GET", "/containers/json?all=1"))[1])).toEqual([`/${a}`]);
    const vols = (await as(bob, t, "GET", "/volumes"))[1].Volumes.map((v: { Name: string }) => v.Name);
    expect(vols).not.toContain(`av-${tag}`);
    const nets = (await as(bob, t, "GET", "/networks"))[1].map((n: { Name: string }) => n.Name).sort();
    expect(nets).toEqual(["bridge", "host", "none"]);
    const images = (await as(bob, t, "GET", "/images/json"))[1].flatMap((i: { RepoTags: string[] }) => i.RepoTags);
    expect(images).toEqual(expect.arrayContaining(["bb:latest", `alice-img-${tag}:v1`]));
    // The stock docker CLI, as bob.
    const ps = await asUser(bob, ["docker", "ps", "-a", "--format", "{{.Names}}"], { DOCKER_HOST: t.dockerHost });
    expect(ps).toMatchObject({ code: 0, stdout: `${b}\n` });
  });

  test("another user's objects answer 404 as if absent: inspect, start, stop, exec, logs, rm, connect", async () => {
    for (const [method, path] of [
      ["GET", `/containers/${a}/json`],
      ["POST", `/containers/${a}/stop`],
      ["POST", `/containers/${a}/kill`],
      ["GET", `/containers/${a}/logs?stdout=1`],
      ["DELETE", `/containers/${a}?force=1`],
    ] as const) {
      expect(await as(bob, t, method, path)).toEqual([404, { message: `No such container: ${a}` }]);
    }
    expect((await as(bob, t, "POST", `/containers/${a}/exec`, { Cmd: ["true"] }))[0]).toBe(404);
    // Not by ID prefix either.
    const id: string = (await as(alice, t, "GET", `/containers/${a}/json`))[1].Id;
    expect((await as(bob, t, "GET", `/containers/${id.slice(0, 8)}/json`))[0]).toBe(404);
    // Alice's exec, by its ID.
    const [, exec] = await as(alice, t, "POST", `/containers/${a}/exec`, { Cmd: ["true"] });
    expect(await as(bob, t, "GET", `/exec/${exec.Id}/json`)).toEqual([404, { message: `No such exec instance: ${exec.Id}` }]);
    expect((await as(alice, t, "GET", `/exec/${exec.Id}/json`))[0]).toBe(200);
    // Volumes and networks.
    expect((await as(bob, t, "GET", `/volumes/av-${tag}`))[0]).toBe(404);
    expect((await as(bob, t, "DELETE", `/volumes/av-${tag}`))[0]).toBe(404);
    expect((await as(bob, t, "POST", "/volumes/create", { Name: `av-${tag}` }))[0]).toBe(409); // not handed out
    expect((await as(bob, t, "GET", `/networks/an-${tag}`))[0]).toBe(404);
    expect((await as(bob, t, "DELETE", `/networks/an-${tag}`))[0]).toBe(404);
    expect((await as(bob, t, "POST", `/networks/an-${tag}/connect`, { Container: b }))[0]).toBe(404);
    expect((await as(bob, t, "POST", "/networks/bridge/connect", { Container: a }))[0]).toBe(404);
    // Bob cannot reach them through his own container either.
    expect((await as(bob, t, "POST", `/containers/create?name=b3-${tag}`, { Image: "bb", HostConfig: { NetworkMode: `container:${a}` } }))[0]).toBe(404);
    // Prunes leave others' objects alone.
    await as(bob, t, "POST", "/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D");
    await as(bob, t, "POST", "/networks/prune");
    await as(bob, t, "POST", "/containers/prune");
    // All of alice's objects are still there, her container still running.
    const state = (await as(alice, t, "GET", `/containers/${a}/json`))[1].State;
    expect(state.Running).toBe(true);
    expect((await as(alice, t, "GET", `/volumes/av-${tag}`))[0]).toBe(200);
    expect((await as(alice, t, "GET", `/networks/an-${tag}`))[0]).toBe(200);
  });

  test("events: a user sees those of their own objects; df lists only theirs; host-path features are root's", async () => {
    const aliceId: string = (await as(alice, t, "GET", `/containers/${a}/json`))[1].Id;
    // (Bob's prune above removed his first container: past events of a removed object are not shown to non-root users.)
    const [, made] = await as(bob, t, "POST", `/containers/create?name=b6-${tag}`, { Image: "bb", Cmd: ["true"] });
    const bobId: string = made.Id;
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = async (u: TestUser) =>
      (await curlAs(u, t.socket, "GET", `/events?since=0&until=${until}`))[1]
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { Type: string; Actor: { ID: string } });
    const bobs = await events(bob);
    expect(bobs.some((e) => e.Actor.ID === bobId)).toBe(true);
    expect(bobs.some((e) => e.Actor.ID === aliceId)).toBe(false);
    const aliceNet: string = (await as(alice, t, "GET", `/networks/an-${tag}`))[1].Id;
    expect(bobs.filter((e) => e.Actor.ID === `av-${tag}` || e.Actor.ID === aliceNet)).toEqual([]);
    expect((await events(alice)).some((e) => e.Actor.ID === aliceNet)).toBe(true);
    expect((await events(alice)).some((e) => e.Actor.ID === aliceId)).toBe(true);
    // Live events: bob's stream shows his new volume, not alice's.
    const liveUntil = Math.ceil(Date.now() / 1000) + 3;
    const live = curlAs(bob, t.socket, "GET", `/events?until=${liveUntil}&filters=${encodeURIComponent('{"type":["volume"]}')}`);
    await Bun.sleep(800);
    expect((await as(alice, t, "POST", "/volumes/create", { Name: `alive-${tag}` }))[0]).toBe(201);
    expect((await as(bob, t, "POST", "/volumes/create", { Name: `blive-${tag}` }))[0]).toBe(201);
    const [liveStatus, liveText] = await live;
    expect(liveStatus).toBe(200);
    const liveIds = liveText.trim().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { Actor: { ID: string } }).Actor.ID);
    expect(liveIds).toEqual([`blive-${tag}`]);
    const [, df] = await as(bob, t, "GET", "/system/df");
    const dfIds = df.Containers.map((c: { Id: string }) => c.Id);
    expect(dfIds).toContain(bobId);
    expect(dfIds).not.toContain(aliceId);
    expect(df.Volumes.map((v: { Name: string }) => v.Name)).not.toContain(`av-${tag}`);
    expect(await as(bob, t, "POST", "/build?contextdir=/root")).toEqual([
      403,
      { message: "a build from a host directory (?contextdir=) is for root only on a daemon with --owner-scope: it reads host files as berthd" },
    ]);
    expect((await as(bob, t, "GET", "/berth/compose/watch"))[0]).toBe(403);
  });

  test("images are shared content: bob runs alice's image, but cannot remove it; alice can", async () => {
    expect((await as(bob, t, "POST", `/containers/create?name=b4-${tag}`, { Image: `alice-img-${tag}:v1`, Cmd: ["true"] }))[0]).toBe(201);
    expect(await as(bob, t, "DELETE", `/images/alice-img-${tag}:v1`)).toEqual([
      403,
      { message: `image alice-img-${tag}:v1 belongs to uid ${alice.uid} (${alice.name}): only its owner or root can remove it` },
    ]);
    expect((await as(bob, t, "DELETE", "/images/bb"))[0]).toBe(403);
    await as(bob, t, "POST", "/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D");
    expect((await as(alice, t, "GET", `/images/alice-img-${tag}:v1/json`))[0]).toBe(200);
    expect((await as(bob, t, "DELETE", `/containers/b4-${tag}`))[0]).toBe(204);
    // Alice removes her own (her container uses it: untag with force, as Docker).
    expect((await as(alice, t, "DELETE", `/images/alice-img-${tag}:v1?force=1`))[0]).toBe(200);
  });

  test("root sees and acts on everything", async () => {
    // (Bob's prune above removed his stopped containers.)
    expect((await as(bob, t, "POST", `/containers/create?name=b5-${tag}`, { Image: "bb", Cmd: ["true"] }))[0]).toBe(201);
    const ps = (await berth(t, ["ps", "-a", "--format", "{{.Names}}"])).stdout.trim().split("\n").sort();
    expect(ps).toEqual([a, `b5-${tag}`, `b6-${tag}`].sort());
    expect(JSON.parse((await berth(t, ["inspect", `b5-${tag}`])).stdout)[0].Owner).toEqual(ownerOf(bob));
    expect((await berth(t, ["volume", "inspect", `av-${tag}`])).code).toBe(0);
    expect((await berth(t, ["network", "inspect", `an-${tag}`])).code).toBe(0);
    expect((await berth(t, ["stop", "-t", "0", a])).code).toBe(0);
    expect((await berth(t, ["network", "rm", `an-${tag}`])).code).toBe(0);
  });
});

describe("without --owner-scope", () => {
  test("owners are recorded, and every user of the socket sees everything (Docker's rule)", async () => {
    const t = makeRoot();
    try {
      await startBerthd(t, ["-G", group.name]);
      await importBusybox(t);
      expect((await as(alice, t, "POST", `/containers/create?name=open-${tag}`, { Image: "bb", Cmd: ["true"] }))[0]).toBe(201);
      const [status, c] = await as(bob, t, "GET", `/containers/open-${tag}/json`);
      expect(status).toBe(200);
      expect(c.Owner).toEqual(ownerOf(alice));
      expect((await as(bob, t, "DELETE", `/containers/open-${tag}`))[0]).toBe(204);
    } finally {
      await removeRoot(t);
      expect(leaks(t)).toEqual([]);
    }
  });
});
