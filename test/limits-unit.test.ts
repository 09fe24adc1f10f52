// Pure logic of the cgroup plugins: validation, unit conversions, parsing,
// probes on made-up hosts. The writes at the end go to plain temp directories
// laid out like cgroups, only to see which file gets which value; the
// conformance suites (limits-v1, limits-v2.v2vm) check the real kernel.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { BerthError } from "../core/errors.ts";
import type { CgroupHierarchy, HostInfo } from "../core/host.ts";
import { CgroupV1, probeV1 } from "../plugins/limits/cgroup-v1/cgroup-v1.ts";
import { CgroupV2, probeV2 } from "../plugins/limits/cgroup-v2/cgroup-v2.ts";
import {
  BLKIO_WEIGHT_WARNING,
  blkioToIoWeight,
  checkId,
  cpusToQuota,
  formatCpuList,
  parseCpuList,
  parseKeyed,
  parseLimit,
  parseParent,
  plan,
  sharesToWeight,
  SWAP_WARNING,
} from "../plugins/limits/shared.ts";

const MB = 1024 * 1024;
const TWO_CPUS = [0, 1];

function invalid(fn: () => unknown, message: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BerthError);
  expect((caught as BerthError).kind).toBe("InvalidArgument");
  expect((caught as BerthError).message).toMatch(message);
}

describe("unit conversions (runc's and Docker's formulas)", () => {
  test("cpu shares to cpu.weight", () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(512)).toBe(20);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(0)).toBe(0);
  });

  test("blkio weight to io.weight", () => {
    expect(blkioToIoWeight(10)).toBe(1);
    expect(blkioToIoWeight(500)).toBe(4950);
    expect(blkioToIoWeight(1000)).toBe(10000);
  });

  test("--cpus to a CFS quota per 100 ms", () => {
    expect(cpusToQuota(0.5)).toBe(50_000);
    expect(cpusToQuota(1.5)).toBe(150_000);
    expect(cpusToQuota(0.01)).toBe(1_000);
    expect(cpusToQuota(1.1)).toBe(110_000);
    expect(cpusToQuota(0.333)).toBe(33_300);
  });

  test("cpu lists parse and print", () => {
    expect(parseCpuList("0-2,4")).toEqual([0, 1, 2, 4]);
    expect(parseCpuList(" 3,1,1 ")).toEqual([1, 3]);
    expect(formatCpuList([4, 0, 1, 2])).toBe("0-2,4");
    expect(formatCpuList([1, 3])).toBe("1,3");
    for (const bad of ["", "a", "2-1", "1,,2", "-1", "0-"]) invalid(() => parseCpuList(bad), /Invalid value .* for cpuset cpus/);
  });

  test("keyed files and limit values", () => {
    expect(parseKeyed("cache 4096\nrss 8192\nbogus\n")).toEqual(new Map([["cache", 4096], ["rss", 8192]]));
    expect(parseKeyed("populated 1\nfrozen 0\n").get("frozen")).toBe(0);
    expect(parseLimit("max\n")).toBeUndefined();
    expect(parseLimit("9223372036854771712\n")).toBeUndefined();
    expect(parseLimit("42\n")).toBe(42);
  });

  test("names", () => {
    expect(checkId("abc_1.2-x")).toBe("abc_1.2-x");
    for (const bad of ["", ".", "..", "../x", "a/b", "-x", "a b", "x".repeat(256)]) invalid(() => checkId(bad), /invalid cgroup name/);
    expect(parseParent(undefined)).toEqual(["berth"]);
    expect(parseParent("/a/b/")).toEqual(["a", "b"]);
    invalid(() => parseParent("a/../b"), /invalid cgroup-parent/);
    invalid(() => parseParent("/"), /invalid cgroup-parent/);
  });
});

describe("validation (Docker's rules and messages)", () => {
  test("create defaults: memory+swap is twice the memory; zero means unset", () => {
    expect(plan({ memory: 64 * MB }, true, TWO_CPUS)).toEqual({ memory: 64 * MB, memorySwap: 128 * MB });
    expect(plan({ memory: 64 * MB }, false, TWO_CPUS)).toEqual({ memory: 64 * MB });
    expect(plan({ memory: 64 * MB, memorySwap: -1 }, true, TWO_CPUS)).toMatchObject({ memorySwap: -1, memorySwapExplicit: true });
    expect(plan({ memory: 0, cpus: 0, cpuShares: 0, blkioWeight: 0, cpusetCpus: "" }, true, TWO_CPUS)).toEqual({});
  });

  test("values in kernel terms", () => {
    expect(plan({ cpus: 0.5, cpuShares: 1, cpusetCpus: "1,0", pidsLimit: 0, blkioWeight: 10 }, true, TWO_CPUS)).toEqual({
      cpuQuota: 50_000,
      cpuShares: 2,
      cpusetCpus: "0-1",
      pidsMax: "max",
      blkioWeight: 10,
    });
    expect(plan({ pidsLimit: -1 }, false, TWO_CPUS)).toEqual({ pidsMax: "max" });
    expect(plan({ pidsLimit: 12 }, false, TWO_CPUS)).toEqual({ pidsMax: 12 });
    expect(plan({ cpus: 2 }, false, TWO_CPUS)).toEqual({ cpuQuota: 200_000 });
  });

  test("rejections", () => {
    invalid(() => plan({ memory: 6 * MB - 1 }, true, TWO_CPUS), /Minimum memory limit allowed is 6MB/);
    invalid(() => plan({ memory: -5 }, true, TWO_CPUS), /Minimum memory limit allowed is 6MB/);
    invalid(() => plan({ memory: 1.5 * MB + 0.5 }, true, TWO_CPUS), /whole number of bytes/);
    invalid(() => plan({ memory: 64 * MB, memorySwap: 32 * MB }, true, TWO_CPUS), /memoryswap limit should be larger/);
    invalid(() => plan({ memorySwap: 64 * MB }, true, TWO_CPUS), /always set the Memory limit/);
    invalid(() => plan({ memory: 64 * MB, memorySwap: -2 }, true, TWO_CPUS), /memory\+swap/);
    invalid(() => plan({ cpus: 3 }, true, TWO_CPUS), /^Range of CPUs is from 0\.01 to 2\.00, as there are only 2 CPUs available/);
    invalid(() => plan({ cpus: 0.005 }, true, TWO_CPUS), /Range of CPUs/);
    invalid(() => plan({ cpus: Number.NaN }, true, TWO_CPUS), /Range of CPUs/);
    invalid(() => plan({ cpuShares: 262145 }, true, TWO_CPUS), /cpu shares/);
    invalid(() => plan({ cpusetCpus: "0-2" }, true, TWO_CPUS), /Requested CPUs are not available - requested 0-2, available: 0-1/);
    invalid(() => plan({ pidsLimit: 1.5 }, true, TWO_CPUS), /pids limit/);
    invalid(() => plan({ blkioWeight: 1001 }, true, TWO_CPUS), /Range of blkio weight is from 10 to 1000/);
    invalid(() => plan({ blkioWeight: 9 }, true, TWO_CPUS), /Range of blkio weight/);
  });
});

// ---------------------------------------------------------------- probes on made-up hosts

const tmp = mkdtempSync(join(tmpdir(), "berth-limits-unit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fakeHost(v1: Record<string, string>, v2?: CgroupHierarchy): HostInfo {
  const cgroupV1 = new Map<string, CgroupHierarchy>();
  for (const [c, mp] of Object.entries(v1)) cgroupV1.set(c, { mountpoint: mp, controllers: [c] });
  return { kernel: "test", cgroupMode: "v1", cgroupV1, cgroupV2: v2, filesystems: new Set(), capLastCap: 40 };
}

describe("probes", () => {
  test("cgroup-v1 names the missing hierarchies", () => {
    const p = probeV1(fakeHost({ memory: "/x", cpu: "/y" }));
    expect(p).toEqual({ ok: false, reason: "no cgroup v1 hierarchy for cpuacct, pids (v1 controllers mounted: memory, cpu)" });
  });

  test("cgroup-v1 refuses a hierarchy path that is not a cgroup filesystem", () => {
    const p = probeV1(fakeHost({ memory: tmp, cpu: tmp, cpuacct: tmp, pids: tmp }));
    expect(p.ok).toBe(false);
    expect(!p.ok && p.reason).toMatch(new RegExp(`^${tmp} \\(the memory hierarchy\\) is not a cgroup v1 filesystem \\(statfs: 0x`));
  });

  test("cgroup-v2 without a mount, on a non-cgroup path", () => {
    expect(probeV2(fakeHost({}))).toEqual({ ok: false, reason: "no cgroup2 filesystem is mounted" });
    const p = probeV2(fakeHost({}, { mountpoint: tmp, controllers: ["memory", "cpu", "pids"] }));
    expect(!p.ok && p.reason).toMatch(/is not a cgroup2 filesystem/);
  });
});

// ---------------------------------------------------------------- which file gets which value

describe("file choice, on plain directories laid out like cgroups", () => {
  test("cgroup-v1: no blkio weight file gives Docker's warning; blkio.bfq.weight gets the raw weight", () => {
    const hier: Record<string, string> = {};
    for (const c of ["memory", "cpu", "cpuacct", "pids", "blkio"]) mkdirSync((hier[c] = join(tmp, "v1", c)), { recursive: true });
    const l = new CgroupV1(fakeHost(hier), ["p"]);
    const h = l.create("a", { blkioWeight: 500, memory: 64 * MB });
    expect(h.warnings).toEqual([SWAP_WARNING, BLKIO_WEIGHT_WARNING]);
    expect(readFileSync(join(hier.memory!, "p/a/memory.limit_in_bytes"), "utf8")).toBe(String(64 * MB));
    expect(h.joinFiles).toEqual(["memory", "cpu", "cpuacct", "pids", "blkio"].map((c) => join(hier[c]!, "p/a/cgroup.procs")));
    expect(h.containerMounts.map((m) => m.destination)).toEqual(["/sys/fs/cgroup", ...["memory", "cpu", "cpuacct", "pids", "blkio"].map((c) => `/sys/fs/cgroup/${c}`)]);

    mkdirSync(join(hier.blkio!, "p/b"), { recursive: true });
    writeFileSync(join(hier.blkio!, "p/b/blkio.bfq.weight"), "100");
    expect(l.create("b", { blkioWeight: 500 }).warnings).toEqual([]);
    expect(readFileSync(join(hier.blkio!, "p/b/blkio.bfq.weight"), "utf8")).toBe("500");
  });

  test("cgroup-v2: io.bfq.weight raw, else io.weight converted, else the warning; swap = total - memory", () => {
    const root = join(tmp, "v2");
    mkdirSync(join(root, "p"), { recursive: true });
    for (const d of [root, join(root, "p")]) {
      writeFileSync(join(d, "cgroup.controllers"), "cpuset cpu io memory pids\n");
      writeFileSync(join(d, "cgroup.subtree_control"), "\n");
    }
    const l = new CgroupV2(fakeHost({}, { mountpoint: root, controllers: ["cpuset", "cpu", "io", "memory", "pids"] }), ["p"]);
    const dir = (id: string, files: Record<string, string>) => {
      mkdirSync(join(root, "p", id));
      for (const [f, v] of Object.entries(files)) writeFileSync(join(root, "p", id, f), v);
    };
    const file = (id: string, f: string) => readFileSync(join(root, "p", id, f), "utf8");

    dir("bfq", { "io.bfq.weight": "default 100\n", "io.weight": "default 100\n", "memory.swap.max": "max\n" });
    expect(l.create("bfq", { blkioWeight: 500, memory: 64 * MB, memorySwap: 96 * MB, cpus: 0.5, cpuShares: 1024 }).warnings).toEqual([]);
    expect(file("bfq", "io.bfq.weight")).toBe("500");
    expect(file("bfq", "memory.max")).toBe(String(64 * MB));
    expect(file("bfq", "memory.swap.max")).toBe(String(32 * MB));
    expect(file("bfq", "cpu.max")).toBe("50000 100000");
    expect(file("bfq", "cpu.weight")).toBe("39");

    dir("iocost", { "io.weight": "default 100\n" });
    expect(l.create("iocost", { blkioWeight: 500, memory: 64 * MB }).warnings).toEqual([SWAP_WARNING]);
    expect(file("iocost", "io.weight")).toBe("default 4950");

    expect(l.create("none", { blkioWeight: 500 }).warnings).toEqual([BLKIO_WEIGHT_WARNING]);
    expect(existsSync(join(root, "p", "none", "io.weight"))).toBe(false);
  });
});
