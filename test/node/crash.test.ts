/**
 * kill -9 under load: the real Node server (src/runtime/node.ts: group commit, each group acknowledged
 * after an fsync of the WAL that started after its COMMIT)
 * takes concurrent pings and OTLP exports, is killed with SIGKILL while requests are in flight, and
 * restarted on the same file. Everything it acknowledged must be there, and no export half-written.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const PING_LOOPS = 16;
const EXPORT_LOOPS = 4;
const RECORDS_PER_EXPORT = 20;
const LOAD_MS = 2_500;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-crash-"));
	env = {
		...process.env,
		DATABASE_URL: `file:${join(dir, "hexcovery.db")}`,
		DATA_DIR: join(dir, "data"),
		OTLP_GRPC_PORT: "0",
	};
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startServer(): Promise<{ child: ChildProcess; url: string }> {
	// One process: node with tsx's loader. (tsx's own CLI runs the script in a child process, so a
	// SIGKILL to it would kill the wrapper and leave the server running.)
	const child = spawn(process.execPath, ["--import", "tsx", "src/runtime/node.ts"], {
		// The start line says where it listens (logs are silent under vitest unless LOG_LEVEL is set).
		env: { ...env, PORT: "0", LOG_LEVEL: "info" },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let output = "";
	return new Promise((resolve, reject) => {
		const onData = (chunk: Buffer) => {
			output += chunk.toString();
			const match = /"url":"(http:\/\/localhost:\d+)"/.exec(output);
			if (match) resolve({ child, url: match[1] as string });
		};
		child.stdout?.on("data", onData);
		child.stderr?.on("data", onData);
		child.once("exit", (code) => reject(new Error(`server exited early (${code}): ${output}`)));
	});
}

/** Load until `stop`; returns what the server acknowledged (2xx) before it died. */
async function load(url: string, key: string, round: number, stop: Promise<void>) {
	let stopped = false;
	stop.then(() => {
		stopped = true;
	});
	const pings: string[] = [];
	const exports: string[] = [];
	let n = 0;
	const pingLoop = async (loop: number) => {
		while (!stopped) {
			const body = `r${round}-p${n++}`;
			try {
				const res = await fetch(`${url}/api/v1/heartbeat/crash-${loop}`, {
					method: "POST",
					headers: { "X-API-Key": key },
					body,
				});
				if (res.ok) pings.push(body);
			} catch {
				return; // the server is gone
			}
		}
	};
	const exportLoop = async () => {
		while (!stopped) {
			const id = `r${round}-e${n++}`;
			const ns = `${BigInt(Date.now()) * 1_000_000n}`;
			const logRecords = Array.from({ length: RECORDS_PER_EXPORT }, (_, i) => ({
				timeUnixNano: ns,
				body: { stringValue: `${id}:${i}` },
			}));
			try {
				const res = await fetch(`${url}/v1/logs`, {
					method: "POST",
					headers: { "X-API-Key": key, "Content-Type": "application/json" },
					body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords }] }] }),
				});
				if (res.ok) exports.push(id);
			} catch {
				return;
			}
		}
	};
	await Promise.all([
		...Array.from({ length: PING_LOOPS }, (_, i) => pingLoop(i)),
		...Array.from({ length: EXPORT_LOOPS }, exportLoop),
	]);
	return { pings, exports };
}

describe("kill -9 under load", () => {
	it("loses nothing acknowledged and tears no export, over two kills and restarts", async () => {
		const cli = async (...args: string[]) =>
			(await run(TSX, ["src/cli.ts", ...args], { env })).stdout.trimEnd().split("\n").at(-1) as string;
		const orgId = await cli("org", "create", "Crash");
		const key = await cli("key", "create", "--org", orgId, "--name", "crash");
		const acknowledged = { pings: [] as string[], exports: [] as string[] };
		for (let round = 0; round < 2; round++) {
			const server = await startServer();
			const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()));
			const killed = new Promise<void>((resolve) =>
				setTimeout(() => {
					server.child.kill("SIGKILL");
					resolve();
				}, LOAD_MS),
			);
			const result = await load(server.url, key, round, killed);
			await exited;
			acknowledged.pings.push(...result.pings);
			acknowledged.exports.push(...result.exports);
			expect(result.pings.length).toBeGreaterThan(0);
			expect(result.exports.length).toBeGreaterThan(0);
		}

		const db = createClient({ url: env.DATABASE_URL as string });
		try {
			const pings = new Set(
				(await db.execute("SELECT body FROM monitor_pings WHERE org_id = ?", [orgId])).rows.map(
					(r) => r.body as string,
				),
			);
			expect(acknowledged.pings.filter((body) => !pings.has(body))).toEqual([]);
			const perExport = new Map(
				(
					await db.execute(
						"SELECT substr(body, 1, instr(body, ':') - 1) AS export_id, count(*) AS n FROM logs WHERE org_id = ? GROUP BY export_id",
						[orgId],
					)
				).rows.map((r) => [r.export_id as string, Number(r.n)]),
			);
			expect(
				acknowledged.exports
					.filter((id) => perExport.get(id) !== RECORDS_PER_EXPORT)
					.map((id) => `${id}=${perExport.get(id)}`),
			).toEqual([]);
			// Unacknowledged exports may be there or not, but never in part.
			expect([...perExport.values()].filter((n) => n !== RECORDS_PER_EXPORT)).toEqual([]);
		} finally {
			db.close();
		}
	}, 60_000);
});
