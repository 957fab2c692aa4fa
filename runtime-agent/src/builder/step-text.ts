// How a build step names itself in the history and the output, shared by the modules of the steps
// (stage-run.ts, copy-step.ts, ...) without importing each other at run time.

/** The prefix dockerd's classic builder gives a step that runs nothing (`#(nop)`) in `created_by`. */
export const NOP = '/bin/sh -c #(nop) ';

/** An image ID as the build's output shows it (12 hex digits), or `scratch`. */
export function shortId(id: string | undefined): string {
  return id ? id.replace(/^sha256:/, '').slice(0, 12) : 'scratch';
}
