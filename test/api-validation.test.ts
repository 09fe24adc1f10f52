// Bad input to berthd's API is a 400 with a message that says what is
// wrong and where, in Docker's {"message": ...} shape: wrong types (checked
// against schemas/api/), invalid JSON, wrong content types, oversized
// bodies, bad paths; streamed bodies are not bounded.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { generateValidators, validatorsPath } from "../bin/gen-api-validators.ts";
import { validateBody } from "../core/api/validate.ts";
import { berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
});
afterAll(async () => {
  await removeRoot(t);
  expect(leaks(t)).toEqual([]);
});

const api = (path: string, init: RequestInit = {}) => fetch(`http://berth${path}`, { ...init, unix: t.socket } as RequestInit);
const send = async (method: string, path: string, body?: string | Uint8Array, type: string | null = "application/json"): Promise<[number, string]> => {
  const r = await api(path, { method, body, headers: type ? { "Content-Type": type } : {} });
  const text = await r.text();
  let message = text;
  try {
    message = JSON.parse(text).message ?? text;
  } catch {
    // not JSON
  }
  return [r.status, message];
};

describe("schemas", () => {
  test("schemas/api/validators.js is generated from the schemas as they are (bin/gen-api-validators)", () => {
    expect(readFileSync(validatorsPath, "utf8") === generateValidators()).toBe(true);
  });

  test("wrong types name the field and what it should be; unknown fields and nulls pass, as in Docker", () => {
    const err = (name: Parameters<typeof validateBody>[0], body: unknown) => {
      try {
        validateBody(name, body);
        return "";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(err("container-create", { Image: "bb", HostConfig: { Memory: "1g" } })).toBe('invalid request body: HostConfig.Memory must be an integer, not the string "1g"');
    expect(err("container-create", { Env: ["A=1", 2] })).toBe("invalid request body: Env[1] must be a string, not the number 2");
    expect(err("container-create", { HostConfig: { ShmSize: -1 } })).toBe("invalid request body: HostConfig.ShmSize must be >= 0, not -1");
    expect(err("container-create", { HostConfig: { Memory: 1e30 } })).toBe("invalid request body: HostConfig.Memory must be a 64-bit integer, not 1e+30");
    expect(err("container-create", { Healthcheck: { Interval: 1.5 } })).toBe("invalid request body: Healthcheck.Interval must be an integer, not the number 1.5");
    expect(err("container-create", { HostConfig: { PortBindings: { "80/tcp": [{ HostPort: 80 }] } } })).toBe(
      "invalid request body: HostConfig.PortBindings.80/tcp[0].HostPort must be a string, not the number 80",
    );
    expect(err("container-create", [1])).toBe("invalid request body: the body must be a JSON object, not an array");
    expect(err("exec-create", { Cmd: "ls" })).toBe('invalid request body: Cmd must be an array, not the string "ls"');
    expect(err("exec-start", { Detach: "yes" })).toBe('invalid request body: Detach must be a boolean, not the string "yes"');
    expect(err("network-create", { Name: 5 })).toBe("invalid request body: Name must be a string, not the number 5");
    expect(err("network-create", {})).toBe("invalid request body: Name is required");
    expect(err("network-connect", { Container: "x", EndpointConfig: { Aliases: "a" } })).toBe('invalid request body: EndpointConfig.Aliases must be an array, not the string "a"');
    expect(err("network-disconnect", { Force: 1 })).toBe("invalid request body: Force must be a boolean, not the number 1");
    expect(err("volume-create", { Labels: { a: 1 } })).toBe("invalid request body: Labels.a must be a string, not the number 1");
    expect(err("auth", { username: ["x"] })).toBe("invalid request body: username must be a string, not an array");
    expect(err("commit", { Cmd: 1 })).toBe("invalid request body: Cmd must be an array or a string, not the number 1");
    expect(err("container-create", { Image: "bb", Cmd: null, HostConfig: { Binds: null, Memory: null }, SomethingNew: { x: 1 } })).toBe("");
    // Docker's StrSlice: a string is a one-element list.
    expect(validateBody("container-create", { Cmd: "sh", Entrypoint: "/bin/x" })).toEqual({ Cmd: ["sh"], Entrypoint: ["/bin/x"] });
  });
});

describe("over HTTP", () => {
  test("a wrong type in a create is a 400 naming the field, and no container is made", async () => {
    expect(await send("POST", "/containers/create", JSON.stringify({ Image: "bb", HostConfig: { Memory: "1g" } }))).toEqual([
      400,
      'invalid request body: HostConfig.Memory must be an integer, not the string "1g"',
    ]);
    expect(await send("POST", "/containers/create?name=x", JSON.stringify({ Image: "bb", Env: "A=1" }))).toEqual([400, 'invalid request body: Env must be an array, not the string "A=1"']);
    expect((await berth(t, ["ps", "-aq"])).stdout).toBe("");
  });

  test("invalid JSON, invalid UTF-8 and a wrong Content-Type are 400s", async () => {
    expect(await send("POST", "/containers/create", '{"Image":')).toEqual([400, "invalid JSON in the request body: JSON Parse error: Unexpected EOF"]);
    expect(await send("POST", "/volumes/create", new Uint8Array([0x7b, 0x22, 0x4e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]))).toEqual([400, "invalid JSON in the request body: it is not UTF-8"]);
    expect(await send("POST", "/networks/create", JSON.stringify({ Name: "n" }), "text/plain")).toEqual([400, "unsupported Content-Type header (text/plain): must be 'application/json'"]);
    expect(await send("POST", "/networks/create", JSON.stringify({ Name: "n" }), "application/x-www-form-urlencoded")).toEqual([
      400,
      "unsupported Content-Type header (application/x-www-form-urlencoded): must be 'application/json'",
    ]);
    // NaN and Infinity are not JSON.
    expect((await send("POST", "/containers/create", '{"HostConfig":{"Memory":NaN}}'))[0]).toBe(400);
    // A number past int64.
    expect(await send("POST", "/containers/create", '{"Image":"bb","HostConfig":{"Memory":99999999999999999999999}}')).toEqual([
      400,
      "invalid request body: HostConfig.Memory must be a 64-bit integer, not 1e+23",
    ]);
    // Deep nesting parses (or not) without taking the daemon down.
    expect((await send("POST", "/containers/create", `${"[".repeat(100_000)}${"]".repeat(100_000)}`))[0]).toBe(400);
    expect((await send("POST", "/containers/create", `{"Labels":${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}}`))[0]).toBe(400);
  });

  test("a JSON body over 10 MiB is a 400, by Content-Length or as it streams; the daemon goes on", async () => {
    const big = new Uint8Array(10 * 1024 * 1024 + 1).fill(0x20);
    expect(await send("POST", "/containers/create", big)).toEqual([400, "request body too large: 10485761 bytes; a JSON body may have at most 10485760 bytes"]);
    // Chunked: no Content-Length, the limit hits while reading.
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 11; i++) c.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
        c.close();
      },
    });
    const r = await api("/volumes/create", { method: "POST", body: chunked, headers: { "Content-Type": "application/json" }, duplex: "half" } as RequestInit).catch((e: Error) => e);
    if (r instanceof Response) {
      expect(r.status).toBe(400);
      expect(((await r.json()) as { message: string }).message).toContain("request body too large: over 10485760 bytes");
    } // else: the daemon closed the connection while the client still sent, also a refusal
    expect(await (await api("/_ping")).text()).toBe("OK");
  });

  test("a streamed body (archive PUT) is not bounded: 12 MiB go into a container", async () => {
    const id = (await berth(t, ["create", "bb", "true"])).stdout.trim();
    const tar = Bun.spawnSync(["sh", "-c", "d=$(mktemp -d) && head -c 12582912 /dev/urandom > $d/big && tar -C $d -cf - big && rm -rf $d"]).stdout;
    expect(tar.length).toBeGreaterThan(12 * 1024 * 1024);
    const r = await api(`/containers/${id}/archive?path=/tmp`, { method: "PUT", body: tar, headers: { "Content-Type": "application/x-tar" } });
    expect(r.status).toBe(200);
    const st = await api(`/containers/${id}/archive?path=/tmp/big`, { method: "HEAD" });
    expect(JSON.parse(Buffer.from(st.headers.get("x-docker-container-path-stat")!, "base64").toString()).size).toBe(12582912);
    await berth(t, ["rm", id]);
  });

  test("bad paths and query values are 400s, unknown objects 404s", async () => {
    expect(await send("GET", "/containers/%E0%A4%A/json")).toEqual([400, 'invalid %-escape in the path: "%E0%A4%A"']);
    expect(await send("GET", "/containers/%00x/json")).toEqual([400, 'invalid character in the path: "\\u0000x"']);
    expect(await send("GET", "/containers/nope/json")).toEqual([404, "No such container: nope"]);
    expect(await send("GET", "/containers/json?filters=%7B")).toEqual([400, "invalid filters: {"]);
    expect((await send("POST", "/containers/nope/stop?t=1e400"))[0]).toBe(404);
    const id = (await berth(t, ["run", "-d", "bb", "sleep", "30"])).stdout.trim();
    expect(await send("POST", `/containers/${id}/stop?t=abc`)).toEqual([400, 'invalid value for t: "abc"']);
    expect((await send("POST", `/containers/${id}/resize?h=-1&w=80`))[0]).toBe(400);
    expect((await send("POST", `/containers/${id}/resize?h=NaN&w=80`))[0]).toBe(400);
    expect((await send("GET", `/containers/${id}/logs?stdout=1&tail=abc`))[0]).toBe(400);
    await berth(t, ["rm", "-f", id]);
  });

  test("headers and URLs over 16 KiB are refused (431), the daemon goes on", async () => {
    expect((await api("/_ping", { headers: { "X-Big": "a".repeat(100_000) } })).status).toBe(431);
    expect((await api(`/containers/json?x=${"a".repeat(100_000)}`)).status).toBe(431);
    expect(await (await api("/_ping")).text()).toBe("OK");
  });
});
