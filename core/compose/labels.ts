// The labels Docker Compose puts on what it creates. berth writes the same
// ones, so `docker ps --filter label=com.docker.compose.project=x` and
// Docker's tools see berth's stacks, and berth finds them again.
export const PROJECT = "com.docker.compose.project";
export const SERVICE = "com.docker.compose.service";
export const NUMBER = "com.docker.compose.container-number";
export const CONFIG_HASH = "com.docker.compose.config-hash";
export const ONEOFF = "com.docker.compose.oneoff";
export const CONFIG_FILES = "com.docker.compose.project.config_files";
export const WORKING_DIR = "com.docker.compose.project.working_dir";
export const DEPENDS_ON = "com.docker.compose.depends_on";
export const IMAGE = "com.docker.compose.image";
export const VERSION = "com.docker.compose.version";
export const NETWORK = "com.docker.compose.network";
export const VOLUME = "com.docker.compose.volume";

/** The compose version berth reports in labels (what Docker Compose v2 writes there). */
export const COMPOSE_VERSION = "2.20.0";

/** A filter query for everything of a project (and, optionally, one service). */
export function projectFilter(project: string, extra: string[] = []): string {
  return JSON.stringify({ label: [`${PROJECT}=${project}`, ...extra] });
}
