// nftables through libnftables: the command language as `nft -f -` takes
// it, its output with handles or as JSON, and errors as nft reports them.
// Works on a table of its own, removed at the end.
import { afterAll, expect, test } from "vitest";
import { nftRun } from "../core/sys/nftables.ts";

const table = `berthtest${process.pid}`;
afterAll(async () => {
  await nftRun(`delete table ip ${table}`);
});

test("a script applies in one transaction; list shows handles with -a and JSON with -j", async () => {
  const add = await nftRun(`add table ip ${table}\nadd chain ip ${table} c { type filter hook forward priority 0; policy accept; }\nadd rule ip ${table} c iifname "brx" drop comment "t"`);
  expect(add).toEqual({ code: 0, stdout: "", stderr: "" });
  const plain = await nftRun(`list table ip ${table}`);
  expect(plain.stdout).toContain('iifname "brx" drop comment "t"');
  expect(plain.stdout).not.toContain("# handle");
  const handles = await nftRun(`list table ip ${table}`, { handles: true });
  expect(handles.stdout).toMatch(/iifname "brx" drop comment "t" # handle \d+/);
  const json = JSON.parse((await nftRun(`list table ip ${table}`, { json: true })).stdout) as { nftables: Record<string, { name?: string }>[] };
  expect(json.nftables.some((o) => o.chain?.name === "c")).toBe(true);
});

test("a failing command changes nothing and says why", async () => {
  const bad = await nftRun(`add rule ip ${table} c iifname "a" accept\nadd rule ip ${table} nochain drop`);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/No such file or directory/);
  // The transaction is all or nothing: the first rule is not there either.
  expect((await nftRun(`list table ip ${table}`)).stdout).not.toContain('iifname "a" accept');
  expect((await nftRun("list table ip berth-no-such-table")).code).toBe(1);
});
