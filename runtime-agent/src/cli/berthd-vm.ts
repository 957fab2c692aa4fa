// Entry point of the bundled berthd in the Berth guest (vm-image/build.sh bundles this file with
// esbuild into /opt/berth/berthd.mjs): the same engine, started the same way.
import { main } from './berthd.js';

await main(process.argv.slice(2));
