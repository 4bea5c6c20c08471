import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Request as MiniflareRequest, Response as MiniflareResponse } from "miniflare";
import { openMigratedDatabase } from "../../src/db/node.js";
import { createHranaHandler } from "../../tools/hrana/server.js";

/** The URL the Worker under test uses for libSQL; miniflare's outboundService answers it from Node. */
export const EDGE_DATABASE_URL = "http://libsql.test";

/**
 * The same database behind a stand-in that can fail (test/workers/storage-failures.test.ts):
 * `POST <url>/__fault/stopped|frozen|running` switches it. Stopped refuses every call (as a closed
 * port does), frozen holds every call unanswered (as SIGSTOP does) until it runs again.
 */
export const FAULTY_DATABASE_URL = "http://libsql-faults.test";
type FaultMode = "running" | "stopped" | "frozen";

/**
 * A migrated embedded database behind the libSQL HTTP stand-in, for the Worker inside workerd:
 * `@libsql/client/web` in the Worker sends its pipeline requests out, and this answers them.
 */
export async function createEdgeDatabase(): Promise<{
	path: string;
	outboundService: (request: MiniflareRequest) => Promise<MiniflareResponse>;
}> {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-edge-"));
	const url = `file:${join(dir, "edge.db")}`;
	const migrated = await openMigratedDatabase(url);
	migrated.client.close();
	const hrana = createHranaHandler({ url });
	let mode: FaultMode = "running";
	const thaw: (() => void)[] = [];
	return {
		path: join(dir, "edge.db"),
		async outboundService(request) {
			const target = new URL(request.url);
			if (target.origin === FAULTY_DATABASE_URL) {
				const switched = /^\/__fault\/(running|stopped|frozen)$/.exec(target.pathname)?.[1] as
					| FaultMode
					| undefined;
				if (switched) {
					mode = switched;
					if (mode !== "frozen") for (const release of thaw.splice(0)) release();
					return new MiniflareResponse(null, { status: 204 });
				}
				if (mode === "frozen") await new Promise<void>((resolve) => thaw.push(resolve));
				if (mode !== "running") throw new Error("connect ECONNREFUSED (the stand-in is stopped)");
			} else if (target.origin !== EDGE_DATABASE_URL) {
				return new MiniflareResponse("tests make no outside requests", { status: 502 });
			}
			const response = await hrana(
				new Request(request.url, {
					method: request.method,
					headers: request.headers,
					body: await request.arrayBuffer(),
				}),
			);
			return new MiniflareResponse(await response.arrayBuffer(), {
				status: response.status,
				headers: Object.fromEntries(response.headers),
			});
		},
	};
}
