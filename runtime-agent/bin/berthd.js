#!/usr/bin/env node
// Thin launcher: the engine is compiled TypeScript in ../dist (npm run build).
import('../dist/cli/berthd.js').then((m) => m.main(process.argv.slice(2)));
