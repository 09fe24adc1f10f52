// berthd's Docker Engine API at the HTTP level: version negotiation, paths
// with and without /v1.xx, Docker's error statuses and bodies, and the JSON
// shapes clients read.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { importBusybox, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t); // starts this root's daemon
});
afterAll(() => removeRoot(t));

const api = (path: string, init: RequestInit = {}) => fetch(`http://berth${path}`, { ...init, unix: t.socket } as RequestInit);
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const post = (path: string, body?: unknown) =>
  api(path, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { "Content-Type": "application/json" } });

describe("version negotiation", () => {
  test("/_ping answers OK with the API version headers, also to HEAD", async () => {
    const r = await api("/_ping");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("OK");
    expect(r.headers.get("api-version")).toBe("1.43");
    expect(r.headers.get("ostype")).toBe("linux");
    const head = await api("/_ping", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("api-version")).toBe("1.43");
  });

  test("/version and /v1.41/version agree; the API version is at least 1.41", async () => {
    const plain = await json(api("/version"));
    const versioned = await json(api("/v1.41/version"));
    expect(versioned).toEqual(plain);
    expect(plain).toMatchObject({ ApiVersion: "1.43", MinAPIVersion: "1.24", Os: "linux", Arch: "amd64" });
    expect(Number(plain.ApiVersion.split(".")[1])).toBeGreaterThanOrEqual(41);
    expect(plain.Components[0].Name).toBe("Engine");
  });

  test("a client older than the minimum gets 400 with Docker's words", async () => {
    const r = await api("/v1.12/version");
    expect(r.status).toBe(400);
    expect((await json(r)).message).toBe("client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version");
  });

  test("/info has the fields the docker CLI prints", async () => {
    const info = await json(api("/v1.43/info"));
    expect(info).toMatchObject({ OSType: "linux", Architecture: expect.any(String), ServerVersion: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(info.Driver).toMatch(/^(overlay|vfs)$/);
    expect(info.Images).toBeGreaterThanOrEqual(1);
    expect(typeof info.NCPU).toBe("number");
    expect(typeof info.MemTotal).toBe("number");
  });
});

describe("errors", () => {
  test("an unknown path is 404 with a JSON message", async () => {
    const r = await api("/v1.43/no/such/thing");
    expect(r.status).toBe(404);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect((await json(r)).message).toBe("page not found: GET /no/such/thing");
  });

  test("a missing container is 404 'No such container'; a missing image 404 'No such image'", async () => {
    const c = await api("/containers/nope/json");
    expect(c.status).toBe(404);
    expect((await json(c)).message).toBe("No such container: nope");
    const i = await api("/images/nope:1/json");
    expect(i.status).toBe(404);
    expect((await json(i)).message).toMatch(/^No such image: nope:1/);
  });

  test("a body that is not JSON is 400 and says so; the daemon keeps serving", async () => {
    const r = await api("/containers/create", { method: "POST", body: "{not json", headers: { "Content-Type": "application/json" } });
    expect(r.status).toBe(400);
    expect((await json(r)).message).toMatch(/^invalid JSON in the request body/);
    expect((await api("/_ping")).status).toBe(200);
  });

  test("a name clash is 409 Conflict; starting a running container is 304; removing a running one is 409", async () => {
    const created = await post("/containers/create?name=api-clash", { Image: "bb", Cmd: ["sleep", "100"] });
    expect(created.status).toBe(201);
    const { Id } = await json(created);
    const again = await post("/containers/create?name=api-clash", { Image: "bb", Cmd: ["true"] });
    expect(again.status).toBe(409);
    expect((await json(again)).message).toContain('The container name "/api-clash" is already in use');
    expect((await post(`/containers/${Id}/start`)).status).toBe(204);
    expect((await post(`/containers/${Id}/start`)).status).toBe(304);
    const rm = await api(`/containers/${Id}`, { method: "DELETE" });
    expect(rm.status).toBe(409);
    expect((await api(`/containers/${Id}?force=1`, { method: "DELETE" })).status).toBe(204);
  });
});

describe("JSON shapes", () => {
  test("container inspect and list carry the fields clients read", async () => {
    const created = await post("/v1.43/containers/create?name=api-shape", { Image: "bb", Cmd: ["sh", "-c", "exit 3"], Labels: { a: "b" }, HostConfig: { Memory: 33554432 } });
    const { Id, Warnings } = await json(created);
    expect(Id).toMatch(/^[a-f0-9]{64}$/);
    expect(Warnings).toEqual([]);
    expect((await post(`/containers/${Id}/start`)).status).toBe(204);
    const wait = await json(post(`/containers/${Id}/wait`));
    expect(wait).toEqual({ StatusCode: 3, Error: null });
    const c = await json(api(`/containers/${Id}/json`));
    expect(c).toMatchObject({
      Id,
      Name: "/api-shape",
      Path: "sh",
      Args: ["-c", "exit 3"],
      State: { Status: "exited", Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, ExitCode: 3 },
      Config: { Image: "bb", Cmd: ["sh", "-c", "exit 3"], Labels: { a: "b" } },
      HostConfig: { Memory: 33554432 },
      Mounts: [],
    });
    expect(c.Image).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(Date.parse(c.State.StartedAt)).toBeLessThanOrEqual(Date.parse(c.State.FinishedAt));
    const list = await json(api(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: ["api-shape"] }))}`));
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ Id, Names: ["/api-shape"], Image: "bb", Command: "sh -c exit 3" /* Docker joins without quoting */, State: "exited", Labels: { a: "b" } });
    expect(list[0].Status).toMatch(/^Exited \(3\) /);
    expect((await api(`/containers/${Id}`, { method: "DELETE" })).status).toBe(204);
  });
});

describe("hijacked exec start", () => {
  /** exec start over a raw socket: the head, then the JSON body and stdin, written in the pieces given; what the stream carried. */
  async function execStart(execId: string, pieces: string[]): Promise<string> {
    const { connect } = await import("node:net");
    const body = '{"Detach":false,"Tty":false}';
    const head = `POST /v1.43/exec/${execId}/start HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const sock = connect(t.socket);
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    const closed = new Promise((r) => sock.on("close", r));
    await new Promise((r) => sock.on("connect", r));
    for (const p of pieces) {
      sock.write(p.replace("HEAD", head).replace("BODY", body));
      await Bun.sleep(50);
    }
    sock.end();
    await closed;
    const all = Buffer.concat(chunks);
    const at = all.indexOf("\r\n\r\n");
    expect(all.subarray(0, at).toString()).toMatch(/^HTTP\/1.1 101 /);
    // stdcopy frames: an 8-byte header (stream, 0, 0, 0, big-endian length), then the payload.
    let out = "";
    for (let i = at + 4; i + 8 <= all.length; ) {
      const len = all.readUInt32BE(i + 4);
      out += all.subarray(i + 8, i + 8 + len).toString();
      i += 8 + len;
    }
    return out;
  }

  test("the request's body is not the command's stdin, whether it comes with the head, alone, or with stdin", async () => {
    const id = (await json(post("/containers/create", { Image: "bb", Cmd: ["sleep", "100"] }))).Id;
    expect((await post(`/containers/${id}/start`)).status).toBe(204);
    for (const pieces of [["HEADBODY", "in-1\n"], ["HEAD", "BODY", "in-2\n"], ["HEAD", "BODYin-3\n"]]) {
      const exec = (await json(post(`/containers/${id}/exec`, { Cmd: ["cat"], AttachStdin: true, AttachStdout: true, AttachStderr: true }))).Id;
      const expected = pieces[pieces.length - 1]!.replace("BODY", "");
      expect(await execStart(exec, pieces)).toBe(expected);
    }
    expect((await api(`/containers/${id}?force=1`, { method: "DELETE" })).status).toBe(204);
  });
});
