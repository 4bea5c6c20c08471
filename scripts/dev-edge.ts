/**
 * `npm run dev:edge`: the Worker in local workerd (`wrangler dev`) with local KV and a local libSQL
 * HTTP endpoint (the stand-in in tools/hrana over data/edge.db), so it runs with no Cloudflare
 * account and no outside service.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { optionalText, portFrom } from "../src/config.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { signingKeysJson, totpKeyText } from "../src/runtime/node-deps.js";
import { serveHrana } from "../tools/hrana/server.js";
import { buildWeb } from "./web-build.js";

const log = (line: object) => console.log(JSON.stringify(line));
const dataDir = optionalText(process.env, "DATA_DIR", "./data");
const databaseUrl = `file:${join(dataDir, "edge.db")}`;
const port = portFrom(process.env, "PORT", 8787);

// The UI's static assets (wrangler.toml [assets]) must exist before wrangler starts.
await buildWeb({ ifStale: true, quiet: true });
const migrated = await openMigratedDatabase(databaseUrl);
migrated.client.close();
const libsql = await serveHrana({ url: databaseUrl }, { port: portFrom(process.env, "EDGE_DB_PORT", 0) });
log({ level: "info", msg: "libSQL HTTP stand-in listening", url: libsql.url, database: databaseUrl });

const envFile = join(dataDir, "edge.env");
const keys = JSON.stringify(JSON.parse(await signingKeysJson(process.env, dataDir, log)));
const totpKey = await totpKeyText(process.env, dataDir, log);
writeFileSync(
	envFile,
	`DATABASE_URL=${libsql.url}\nJWT_SIGNING_KEYS='${keys}'\nTOTP_ENCRYPTION_KEY=${totpKey}\n`,
	{
		mode: 0o600,
	},
);

// Its own process group, so stopping it stops wrangler's workerd and esbuild children too.
const wrangler = spawn(
	join("node_modules", ".bin", "wrangler"),
	[
		"dev",
		"--local",
		"--env-file",
		envFile,
		"--port",
		String(port),
		"--persist-to",
		join(dataDir, "wrangler-state"),
		"--show-interactive-dev-session=false",
		// GET /__scheduled?cron=… fires the Cron Trigger handler (the heartbeat sweep) by hand.
		"--test-scheduled",
	],
	{ stdio: "inherit", detached: true },
);

let stopping = false;
function stop(): void {
	if (stopping) return;
	stopping = true;
	try {
		process.kill(-(wrangler.pid as number), "SIGTERM");
	} catch {
		// Already gone.
	}
}
wrangler.on("exit", async (code) => {
	stop();
	await libsql.close();
	process.exit(stopping && code === null ? 0 : (code ?? 0));
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, stop);
