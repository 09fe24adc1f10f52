import { isolationConformance } from "./conformance/isolation.ts";
import { pluginInstance } from "./helpers/plugins.ts";

isolationConformance("namespaces", () => pluginInstance("isolation", "namespaces", "/tmp/berth-tests"));
