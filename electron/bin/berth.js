#!/usr/bin/env node
// Thin launcher: the host side is compiled TypeScript in ../dist (npm run build).
import('../dist/node/cli/berth.js').then(async (m) => {
  const code = await m.main(process.argv.slice(2));
  // The agent keeps running; every other command exits with its status.
  if (code >= 0) process.exit(code);
});
