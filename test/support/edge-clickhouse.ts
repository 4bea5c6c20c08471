import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { type Request as MiniflareRequest, Response as MiniflareResponse } from "miniflare";
import { loadChdb } from "../../scripts/clickhouse-engine.js";
import { migrateClickHouse } from "../../src/clickhouse/migrate.js";
import { readClickHouseMigrations } from "../../src/clickhouse/node.js";
import { serveClickHouse } from "../../tools/clickhouse/server.js";

/** The URL the Worker tests use for ClickHouse; miniflare's outboundService forwards it to the stand-in. */
export const EDGE_CLICKHOUSE_URL = "http://clickhouse.test";

/**
 * A migrated ClickHouse (chdb behind the HTTP stand-in, on 127.0.0.1) for tests inside workerd:
 * `@clickhouse/client-web` in workerd sends its requests to EDGE_CLICKHOUSE_URL and the returned
 * outbound wrapper forwards them. Requests to other origins go to `next`.
 */
export function createEdgeClickHouse(): Promise<
	(
		next: (request: MiniflareRequest) => Promise<MiniflareResponse>,
	) => (request: MiniflareRequest) => Promise<MiniflareResponse>
> {
	// The workers pool builds its options once per test file; chdb allows one data directory per
	// process: one stand-in for them all.
	shared ??= startEdgeClickHouse();
	return shared;
}

let shared: ReturnType<typeof createEdgeClickHouse> | undefined;

async function startEdgeClickHouse(): Promise<
	(
		next: (request: MiniflareRequest) => Promise<MiniflareResponse>,
	) => (request: MiniflareRequest) => Promise<MiniflareResponse>
> {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-edge-clickhouse-"));
	// No teardown hook here: the data directory goes when the process does.
	process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
	const server = await serveClickHouse(loadChdb(), { path: dir });
	const client = createClient({ url: server.url });
	await migrateClickHouse(client, readClickHouseMigrations());
	await client.close();
	// vitest's main process has no teardown for the workers pool's options: let it exit regardless.
	server.unref();
	return (next) => async (request) => {
		const target = new URL(request.url);
		if (target.origin !== EDGE_CLICKHOUSE_URL) return next(request);
		const response = await fetch(`${server.url}${target.pathname}${target.search}`, {
			method: request.method,
			headers: Object.fromEntries(request.headers),
			...(request.method === "GET" || request.method === "HEAD" ? {} : { body: await request.arrayBuffer() }),
		});
		return new MiniflareResponse(await response.arrayBuffer(), {
			status: response.status,
			headers: Object.fromEntries(response.headers),
		});
	};
}
