#!/usr/bin/env -S node --max-semi-space-size=2
// Thin launcher: the engine is compiled TypeScript in ../dist (npm run build).
// A 2 MB young generation (instead of up to 16 MB) keeps a long-running engine that mostly waits
// small: its working set is records and streams, not short-lived heaps of objects.
import('../dist/cli/berthd.js').then((m) => m.main(process.argv.slice(2)));
