// The plugin registry: registration checks, defaults by probing, requirements.
import { describe, expect, test } from "vitest";
import { probeHost } from "../core/host.ts";
import { Registry, type Plugin } from "../core/registry.ts";
import { isKind } from "../core/errors.ts";

const host = probeHost();
const pref = { isolation: [], limits: [], storage: ["fast", "slow"], network: [], volume: [] };
const storage = (name: string, ok: boolean, requires: string[] = [], init: () => unknown = () => ({ name })): Plugin<"storage"> => ({
  kind: "storage",
  name,
  description: name,
  requires,
  probe: () => (ok ? { ok: true } : { ok: false, reason: `${name} needs a thing` }),
  init: init as Plugin<"storage">["init"],
});

describe("plugin registry", () => {
  test("duplicates and bad names are refused", () => {
    const r = new Registry(host, pref, { root: "/tmp", options: {} });
    r.register(storage("fast", true));
    expect(() => r.register(storage("fast", true))).toThrow("registered twice");
    expect(() => r.register(storage("Bad_Name", true))).toThrow("must be lower-case");
    expect(() => r.register(storage("ok", true, ["nonsense"]))).toThrow('is not "kind/name"');
  });

  test("the default is the first preferred plugin that can run; status says why others cannot", async () => {
    const r = new Registry(host, pref, { root: "/tmp", options: {} });
    r.register(storage("fast", false));
    r.register(storage("slow", true));
    expect(r.defaultName("storage")).toBe("slow");
    expect(await r.get("storage")).toEqual({ name: "slow" });
    const status = r.status("storage");
    expect(status).toEqual([
      { kind: "storage", name: "fast", description: "fast", available: false, reason: "fast needs a thing", isDefault: false },
      { kind: "storage", name: "slow", description: "slow", available: true, reason: undefined, isDefault: true },
    ]);
    const err = await r.get("storage", "fast").catch((e) => e);
    expect(isKind(err, "FailedPrecondition")).toBe(true);
    expect(String(err.message)).toContain("fast needs a thing");
    const unknown = await r.get("storage", "nope").catch((e) => e);
    expect(isKind(unknown, "NotFound")).toBe(true);
  });

  test("requirements are initialised first, once; cycles are reported", async () => {
    const order: string[] = [];
    const r = new Registry(host, pref, { root: "/tmp", options: {} });
    r.register(storage("base", true, [], () => (order.push("base"), {})));
    r.register(storage("top", true, ["storage/base"], () => (order.push("top"), {})));
    r.register(storage("a", true, ["storage/b"]));
    r.register(storage("b", true, ["storage/a"]));
    await r.get("storage", "top");
    await r.get("storage", "top");
    expect(order).toEqual(["base", "top"]);
    await expect(r.get("storage", "a")).rejects.toThrow("cycle");
  });
});
