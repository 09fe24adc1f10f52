// Every plugin berth ships, registered by the engine at start-up.
// A registration is small; each plugin loads its implementation on init.
import type { Plugin } from "../core/registry.ts";
import { plugin as namespaces } from "./isolation/namespaces/index.ts";
import { plugin as cgroupV1 } from "./limits/cgroup-v1/index.ts";
import { plugin as cgroupV2 } from "./limits/cgroup-v2/index.ts";
import { plugin as noCgroups } from "./limits/none/index.ts";
import { plugin as bridge } from "./network/bridge/index.ts";
import { plugin as container } from "./network/container/index.ts";
import { plugin as host } from "./network/host/index.ts";
import { plugin as none } from "./network/none/index.ts";
import { plugin as fuseOverlay } from "./storage/fuse-overlay/index.ts";
import { plugin as overlay } from "./storage/overlay/index.ts";
import { plugin as vfs } from "./storage/vfs/index.ts";
import { plugin as local } from "./volume/local/index.ts";

export const PLUGINS: Plugin[] = [namespaces, cgroupV1, cgroupV2, noCgroups, overlay, vfs, fuseOverlay, bridge, host, none, container, local] as Plugin[];
