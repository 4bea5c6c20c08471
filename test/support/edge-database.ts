import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Request as MiniflareRequest, Response as MiniflareResponse } from "miniflare";
import { openMigratedDatabase } from "../../src/db/node.js";
import { createHranaHandler } from "../../tools/hrana/server.js";

/** The URL the Worker under test uses for libSQL; miniflare's outboundService answers it from Node. */
export const EDGE_DATABASE_URL = "http://libsql.test";

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
	return {
		path: join(dir, "edge.db"),
		async outboundService(request) {
			if (new URL(request.url).origin !== EDGE_DATABASE_URL) {
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
