// BERTH_TRACE=1 prints how long each step took, to stderr: for finding
// where start-up time goes. Costs nothing when off.
const on = !!process.env.BERTH_TRACE;
const origin = performance.timeOrigin;

let sink = (line: string) => console.error(line);

/** Send trace lines elsewhere than stderr (the container init: its stderr is the container's). */
export function traceTo(fn: (line: string) => void) {
  sink = fn;
}

/** Log a step with the milliseconds since this process started. */
export function trace(step: string) {
  if (on) sink(`[trace ${process.pid} +${performance.now().toFixed(1)}ms @${(origin + performance.now()).toFixed(1)}] ${step}`);
}
