/**
 * The Node runtime as `npm start` runs it (`startNodeServer`, settings from the environment), for
 * the load bench and the soak and crash scripts. Prints `LISTENING <port>` once it listens.
 */
import { startNodeServer } from "../src/runtime/node.js";

const running = await startNodeServer(process.env);
process.stdout.write(`LISTENING ${running.port}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
	process.once(signal, () => {
		running.close().then(
			() => process.exit(0),
			() => process.exit(1),
		);
	});
}
