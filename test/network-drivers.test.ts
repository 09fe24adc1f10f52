import { networkConformance } from "./conformance/network.ts";
import { pluginInstance } from "./helpers/plugins.ts";

for (const name of ["bridge", "none", "host", "container"]) networkConformance(name, () => pluginInstance("network", name, "/tmp/berth-tests/net-root"));
