// --filter key=value flags as the API's `filters` query parameter.

/** ["status=exited", "label=a=b", "dangling"] -> {status: ["exited"], label: ["a=b"], dangling: [""]}. */
export function filterMap(list: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list) {
    const eq = f.indexOf("=");
    (out[eq < 0 ? f : f.slice(0, eq)] ??= []).push(eq < 0 ? "" : f.slice(eq + 1));
  }
  return out;
}

/** The `filters` query value: JSON, or undefined when there are none. */
export function filtersQuery(filters: Record<string, string[]>): string | undefined {
  return Object.keys(filters).length ? JSON.stringify(filters) : undefined;
}
