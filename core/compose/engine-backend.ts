// The Backend on the Docker Engine API: berthd (or any Docker-compatible
// daemon) through the CLI's client. Every call is one request.
import { Client } from "../cli/client.ts";
import { isKind } from "../errors.ts";
import { writeTar } from "../images/tar-writer.ts";
import type { CreateRequest, EndpointSettings } from "../engine/types.ts";
import type { Backend, ContainerState } from "./backend.ts";
import * as L from "./labels.ts";
import type { Build, Network, Volume } from "./model.ts";
import { resolve } from "node:path";
import { showProgress } from "../cli/progress.ts";
import type { Observed } from "./plan.ts";
import type { SpecFile } from "./spec.ts";

interface Summary {
  Id: string;
  Names: string[];
  Image: string;
  State: Observed["state"];
  Labels: Record<string, string>;
}

const enc = encodeURIComponent;

/** undefined when the object is not there (404), else the answer. */
async function unlessMissing<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isKind(err, "NotFound")) return undefined;
    throw err;
  }
}

export class EngineBackend implements Backend {
  constructor(readonly client: Client) {}

  async containers(project: string): Promise<Observed[]> {
    const list = await this.client.json<Summary[]>("GET", "/containers/json", { query: { all: 1, filters: L.projectFilter(project) } });
    return list.map((c) => ({
      id: c.Id,
      name: c.Names[0]!.replace(/^\//, ""),
      service: c.Labels[L.SERVICE] ?? "",
      number: Number(c.Labels[L.NUMBER] ?? 0),
      hash: c.Labels[L.CONFIG_HASH] ?? "",
      oneoff: c.Labels[L.ONEOFF] === "True",
      state: c.State,
      image: c.Image,
      labels: c.Labels,
    }));
  }

  async imageId(ref: string) {
    return (await unlessMissing(this.client.json<{ Id: string }>("GET", `/images/${ref}/json`)))?.Id;
  }

  async pull(ref: string) {
    const res = await this.client.call("POST", "/images/create", { query: { fromImage: ref } });
    await showProgress(res.body!, false, true);
  }

  async build(ref: string, b: Build, quiet: boolean) {
    const res = await this.client.call("POST", "/build", {
      query: {
        t: [ref, ...b.tags],
        contextdir: b.context,
        dockerfile: resolve(b.context, b.dockerfile),
        buildargs: JSON.stringify(b.args),
        labels: JSON.stringify(b.labels),
        target: b.target,
        nocache: b.no_cache,
        pull: b.pull,
        networkmode: b.network,
        extrahosts: b.extra_hosts.length ? b.extra_hosts : undefined,
      },
      headers: { "Content-Type": "application/x-tar" },
    });
    await showProgress(res.body!, false, quiet);
  }

  async push(ref: string) {
    const res = await this.client.call("POST", `/images/${ref}/push`, { headers: { "X-Registry-Auth": "e30=" } });
    await showProgress(res.body!, false, true);
  }

  async networkExists(name: string) {
    return (await unlessMissing(this.client.json("GET", `/networks/${enc(name)}`))) !== undefined;
  }

  async createNetwork(name: string, net: Network, labels: Record<string, string>) {
    await this.client.json("POST", "/networks/create", {
      json: {
        Name: name,
        Driver: net.driver ?? "bridge",
        Options: net.driver_opts,
        Internal: net.internal,
        Attachable: net.attachable,
        Labels: { ...net.labels, ...labels },
        IPAM: net.ipam && { Driver: net.ipam.driver ?? "default", Config: net.ipam.config.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range })) },
      },
    });
  }

  async removeNetwork(name: string) {
    return (await unlessMissing(this.client.call("DELETE", `/networks/${enc(name)}`))) !== undefined;
  }

  async projectNetworks(project: string) {
    const list = await this.client.json<{ Name: string }[]>("GET", "/networks", { query: { filters: L.projectFilter(project) } });
    return list.map((n) => n.Name);
  }

  async volumeExists(name: string) {
    return (await unlessMissing(this.client.json("GET", `/volumes/${enc(name)}`))) !== undefined;
  }

  async createVolume(name: string, vol: Volume, labels: Record<string, string>) {
    await this.client.json("POST", "/volumes/create", { json: { Name: name, Driver: vol.driver ?? "local", DriverOpts: vol.driver_opts, Labels: { ...vol.labels, ...labels } } });
  }

  async removeVolume(name: string) {
    return (await unlessMissing(this.client.call("DELETE", `/volumes/${enc(name)}`))) !== undefined;
  }

  async projectVolumes(project: string) {
    const out = await this.client.json<{ Volumes: { Name: string }[] | null }>("GET", "/volumes", { query: { filters: L.projectFilter(project) } });
    return (out.Volumes ?? []).map((v) => v.Name);
  }

  async create(name: string, request: CreateRequest) {
    return (await this.client.json<{ Id: string }>("POST", "/containers/create", { query: { name }, json: request })).Id;
  }

  async connect(id: string, network: string, endpoint: EndpointSettings) {
    await this.client.call("POST", `/networks/${enc(network)}/connect`, { json: { Container: id, EndpointConfig: endpoint } });
  }

  async copyFiles(id: string, files: SpecFile[]) {
    if (!files.length) return;
    const mtime = Math.floor(Date.now() / 1000);
    const dirs = new Set<string>();
    for (const f of files) for (let d = parentOf(f.target); d !== "/"; d = parentOf(d)) dirs.add(d);
    const entries = [
      ...[...dirs].sort().map((d) => ({ name: `${d.slice(1)}/`, type: "dir" as const, mode: 0o755, uid: 0, gid: 0, mtime })),
      ...files.map((f) => ({ name: f.target.slice(1), type: "file" as const, mode: f.mode, uid: f.uid, gid: f.gid, mtime, size: f.content.length, body: f.content })),
    ];
    const chunks: Uint8Array[] = [];
    for await (const c of writeTar(entries)) chunks.push(c);
    await this.client.call("PUT", `/containers/${id}/archive`, { query: { path: "/", copyUIDGID: 1 }, body: Buffer.concat(chunks), headers: { "Content-Type": "application/x-tar" } });
  }

  async start(id: string) {
    await this.client.call("POST", `/containers/${id}/start`);
  }

  async stop(id: string, timeout?: number) {
    await this.client.call("POST", `/containers/${id}/stop`, { query: { t: timeout } });
  }

  async restart(id: string, timeout?: number) {
    await this.client.call("POST", `/containers/${id}/restart`, { query: { t: timeout } });
  }

  async kill(id: string, signal?: string) {
    await this.client.call("POST", `/containers/${id}/kill`, { query: { signal } });
  }

  async pause(id: string) {
    await this.client.call("POST", `/containers/${id}/pause`);
  }

  async unpause(id: string) {
    await this.client.call("POST", `/containers/${id}/unpause`);
  }

  async remove(id: string, opts: { force?: boolean; volumes?: boolean } = {}) {
    await unlessMissing(this.client.call("DELETE", `/containers/${id}`, { query: { force: opts.force, v: opts.volumes } }));
  }

  async state(id: string): Promise<ContainerState> {
    const c = await this.client.json<{ State: { Status: Observed["state"]; ExitCode: number; Health?: { Status: string } } }>("GET", `/containers/${id}/json`);
    return { status: c.State.Status, exitCode: c.State.ExitCode, health: c.State.Health?.Status };
  }

  async exec(id: string, cmd: { command: string[]; user?: string; workingDir?: string; privileged?: boolean; env?: string[] }) {
    const { Id } = await this.client.json<{ Id: string }>("POST", `/containers/${id}/exec`, {
      json: { Cmd: cmd.command, User: cmd.user, WorkingDir: cmd.workingDir, Privileged: cmd.privileged, Env: cmd.env, AttachStdout: false, AttachStderr: false },
    });
    await this.client.call("POST", `/exec/${Id}/start`, { json: { Detach: true } });
    for (;;) {
      const info = await this.client.json<{ Running: boolean; ExitCode: number }>("GET", `/exec/${Id}/json`);
      if (!info.Running) return info.ExitCode;
      await Bun.sleep(5);
    }
  }

  async wait(id: string) {
    return (await this.client.json<{ StatusCode: number }>("POST", `/containers/${id}/wait`)).StatusCode;
  }
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";
