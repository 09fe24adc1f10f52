import { networkConformance } from "./conformance/network.ts";
import { pluginInstance } from "./helpers/plugins.ts";

for (const name of ["none", "host"]) networkConformance(name, () => pluginInstance("network", name, "/tmp/berth-tests"));
