// ipx (the image server of Nuxt/unjs, on sharp) serving a folder over HTTP on loopback, as
// the peer of `npm run bench`. Run with Node: node scripts/bench/ipx-server.mjs DIR
// URLs: /w_800,f_webp,q_80/<file>
import { createServer } from "node:http";
import { createIPX, createIPXNodeServer, ipxFSStorage } from "ipx";

const ipx = createIPX({ storage: ipxFSStorage({ dir: process.argv[2] }) });
const server = createServer(createIPXNodeServer(ipx));
server.listen(0, "127.0.0.1", () => console.log(`ipx on http://127.0.0.1:${server.address().port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
