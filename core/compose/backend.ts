// The reconciler's "apply" side: what it asks of whatever runs the
// containers. engine-backend.ts implements it on the Docker Engine API (berthd,
// or any Docker-compatible daemon); a Kubernetes or Swarm backend would be
// another implementation of this interface.
import type { CreateRequest, EndpointSettings } from "../engine/types.ts";
import type { Build, Network, Volume } from "./model.ts";
import type { Observed } from "./plan.ts";
import type { SpecFile } from "./spec.ts";

export interface ContainerState {
  status: Observed["state"];
  exitCode: number;
  /** "starting" | "healthy" | "unhealthy"; undefined without a healthcheck. */
  health?: string;
}

export interface Backend {
  /** Every container of the project, one-off ones included. */
  containers(project: string): Promise<Observed[]>;
  /** The id of a local image, or undefined when there is none. */
  imageId(ref: string): Promise<string | undefined>;
  pull(ref: string): Promise<void>;
  /** Build the service's image and tag it `ref`; the builder's output is shown unless quiet. */
  build(ref: string, build: Build, quiet: boolean): Promise<void>;
  push(ref: string): Promise<void>;

  networkExists(name: string): Promise<boolean>;
  createNetwork(name: string, net: Network, labels: Record<string, string>): Promise<void>;
  /** false when the network was not there. */
  removeNetwork(name: string): Promise<boolean>;
  /** Networks of the project (by label), real names. */
  projectNetworks(project: string): Promise<string[]>;
  volumeExists(name: string): Promise<boolean>;
  createVolume(name: string, vol: Volume, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<boolean>;
  projectVolumes(project: string): Promise<string[]>;

  create(name: string, request: CreateRequest): Promise<string>;
  connect(id: string, network: string, endpoint: EndpointSettings): Promise<void>;
  copyFiles(id: string, files: SpecFile[]): Promise<void>;
  start(id: string): Promise<void>;
  /** Stop with the container's own grace period, or `timeout` seconds. */
  stop(id: string, timeout?: number): Promise<void>;
  restart(id: string, timeout?: number): Promise<void>;
  kill(id: string, signal?: string): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  remove(id: string, opts?: { force?: boolean; volumes?: boolean }): Promise<void>;
  state(id: string): Promise<ContainerState>;
  /** Run a command in a running container to its end; its exit code. */
  exec(id: string, cmd: { command: string[]; user?: string; workingDir?: string; privileged?: boolean; env?: string[] }): Promise<number>;
  /** Block until the container stops; its exit code. */
  wait(id: string): Promise<number>;
}
