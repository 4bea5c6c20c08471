/**
 * What the load bench (bench/load.ts) and the soak and crash scripts (scripts/soak.ts,
 * scripts/crash.ts) share: a real Node server in a child process (`startNodeServer`, the runtime
 * `npm start` runs), fixtures for it (an org, an API key, a viewer session) and request bodies.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createJwtSigner, generateSigningKey } from "../src/auth/jwt.js";
import { systemClock } from "../src/clock.js";
import { jwtSettingsFrom } from "../src/config.js";
import type { Database } from "../src/db/client.js";
import { users } from "../src/db/schema.js";
import { createApiKey, createOrg } from "../src/services/api-keys.js";
import { tsxChildArgs } from "./proc.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface ServerFixtures {
	orgId: string;
	key: string;
	/** A viewer's access token (15 min), signed with `signingKeys`. */
	token: string;
	/** JWT_SIGNING_KEYS for the server. */
	signingKeys: string;
}

/** An API key and a viewer session in `orgId` (created when absent) of a migrated database. */
export async function createServerFixtures(db: Database, orgId?: string): Promise<ServerFixtures> {
	const org = orgId ?? (await createOrg(db, systemClock, "Load bench")).id;
	const { key } = await createApiKey(db, systemClock, { orgId: org, name: "load", createdBy: "cli" });
	const signingKeys = JSON.stringify({ keys: [await generateSigningKey()] });
	const userId = `usr_load_${Date.now().toString(36)}`;
	await db.insert(users).values({
		id: userId,
		orgId: org,
		email: `${userId}@example.com`,
		name: "Load viewer",
		role: "viewer",
		createdAt: Date.now(),
		updatedAt: Date.now(),
	});
	const sign = createJwtSigner(jwtSettingsFrom({}, signingKeys), systemClock);
	return { orgId: org, key, token: await sign({ orgId: org, userId, role: "viewer" }), signingKeys };
}

export interface ServerChild {
	url: string;
	child: ChildProcess;
	/** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
	stop(): Promise<void>;
}

/**
 * Starts a bench server script — by default `npm start`'s server (bench/load-server.ts) — with
 * `env`; resolves once it prints `LISTENING <port>`.
 */
export async function startServerChild(
	env: Record<string, string>,
	script = "bench/load-server.ts",
): Promise<ServerChild> {
	const child = spawn(process.execPath, tsxChildArgs(join(ROOT, script)), {
		cwd: ROOT,
		env: { ...process.env, OTLP_GRPC_PORT: "0", PORT: "0", HOST: "127.0.0.1", ...env },
		stdio: ["ignore", "pipe", "inherit"],
	});
	const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error("the server did not start within 60 s")), 60_000);
		lines.on("line", (line) => {
			const match = /^LISTENING (\d+)$/.exec(line);
			if (match) {
				clearTimeout(timer);
				resolve(Number(match[1]));
			}
		});
		child.once("exit", (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`the server exited before it listened (code ${code}, signal ${signal})`));
		});
	});
	return {
		url: `http://127.0.0.1:${port}`,
		child,
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null) return;
			const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
			child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
			await exited;
			clearTimeout(timer);
		},
	};
}

/** A small OTLP/JSON logs export: `records` log records of one service, stamped now. */
export function smallOtlpLogs(records = 1, tag = "load"): string {
	const now = BigInt(Date.now()) * 1_000_000n;
	return JSON.stringify({
		resourceLogs: [
			{
				resource: { attributes: [{ key: "service.name", value: { stringValue: "load" } }] },
				scopeLogs: [
					{
						logRecords: Array.from({ length: records }, (_, i) => ({
							timeUnixNano: String(now + BigInt(i)),
							severityText: "INFO",
							body: { stringValue: `${tag} ${i}` },
						})),
					},
				],
			},
		],
	});
}

/** What a mixed workload sent and what the server acknowledged (a 2xx answer). */
export interface WorkloadTally {
	/** Latencies (ms) of 2xx answers per kind of request. */
	latencies: Record<WorkloadKind, number[]>;
	/** Answers that were not 2xx, by kind and status ("error" when the connection failed). */
	failures: Map<string, number>;
	/** Bodies of OTLP log records acknowledged (each request carries RECORDS_PER_EXPORT). */
	ackedRecords: Set<string>;
	/** Acknowledged pings per slug. */
	ackedPings: Map<string, number>;
}

export type WorkloadKind = "otlp" | "ping" | "health" | "overview" | "dsl";
export const RECORDS_PER_EXPORT = 10;

/**
 * Mixed load until `stop()`: `ingest` clients posting OTLP/JSON exports of RECORDS_PER_EXPORT
 * records (bodies unique per run, so each can be looked up), `pingers` clients pinging their own
 * slug, one client on `/health`, and `readers` dashboard clients alternating the 24 h overview and an
 * OQL count. Every client sends its next request when the previous one was answered.
 */
export function startWorkload(
	url: string,
	f: ServerFixtures,
	options: { ingest: number; pingers: number; readers: number; run: string },
) {
	const tally: WorkloadTally = {
		latencies: { otlp: [], ping: [], health: [], overview: [], dsl: [] },
		failures: new Map(),
		ackedRecords: new Set(),
		ackedPings: new Map(),
	};
	let stopped = false;
	let sequence = 0;
	const timed = async (kind: WorkloadKind, path: string, init: RequestInit): Promise<boolean> => {
		const started = performance.now();
		let status: number | "error";
		try {
			const response = await fetch(url + path, { ...init, signal: AbortSignal.timeout(30_000) });
			await response.arrayBuffer();
			status = response.status;
		} catch {
			status = "error";
		}
		if (typeof status === "number" && status >= 200 && status < 300) {
			tally.latencies[kind].push(performance.now() - started);
			return true;
		}
		const label = `${kind} ${status}`;
		tally.failures.set(label, (tally.failures.get(label) ?? 0) + 1);
		return false;
	};
	const loop = async (step: () => Promise<void>) => {
		while (!stopped) await step();
	};
	const clients: Promise<void>[] = [];
	for (let i = 0; i < options.ingest; i++) {
		clients.push(
			loop(async () => {
				const tag = `${options.run}-${i}-${sequence++}`;
				const now = BigInt(Date.now()) * 1_000_000n;
				const body = JSON.stringify({
					resourceLogs: [
						{
							resource: { attributes: [{ key: "service.name", value: { stringValue: "soak" } }] },
							scopeLogs: [
								{
									logRecords: Array.from({ length: RECORDS_PER_EXPORT }, (_, r) => ({
										timeUnixNano: String(now + BigInt(r)),
										severityText: r === 0 ? "ERROR" : "INFO",
										body: { stringValue: `${tag}/${r}` },
									})),
								},
							],
						},
					],
				});
				const ok = await timed("otlp", "/v1/logs", {
					method: "POST",
					headers: { "X-API-Key": f.key, "Content-Type": "application/json" },
					body,
				});
				if (ok) for (let r = 0; r < RECORDS_PER_EXPORT; r++) tally.ackedRecords.add(`${tag}/${r}`);
			}),
		);
	}
	for (let i = 0; i < options.pingers; i++) {
		const slug = `${options.run}-ping-${i}`.toLowerCase().replace(/[^a-z0-9_-]/g, "-");
		clients.push(
			loop(async () => {
				const ok = await timed("ping", `/api/v1/heartbeat/${slug}`, {
					method: "POST",
					headers: { "X-API-Key": f.key },
				});
				if (ok) tally.ackedPings.set(slug, (tally.ackedPings.get(slug) ?? 0) + 1);
			}),
		);
	}
	clients.push(loop(async () => void (await timed("health", "/health", {}))));
	for (let i = 0; i < options.readers; i++) {
		let turn = 0;
		clients.push(
			loop(async () => {
				if (turn++ % 2 === 0) {
					await timed("overview", "/api/v1/pages/overview?range=24h", {
						headers: { Authorization: `Bearer ${f.token}` },
					});
				} else {
					await timed("dsl", "/api/v1/dsl", {
						method: "POST",
						headers: { Authorization: `Bearer ${f.token}`, "Content-Type": "application/json" },
						body: JSON.stringify({
							query: "SELECT count(*) FROM logs GROUP BY level TIMESERIES 1h LAST 24h",
						}),
					});
				}
			}),
		);
	}
	return {
		tally,
		async stop(): Promise<WorkloadTally> {
			stopped = true;
			await Promise.all(clients);
			return tally;
		},
	};
}

/**
 * Checks every acknowledged item against the database file (read with a fresh connection): each
 * acknowledged OTLP record is stored, no export is torn (its records are all there or none), and
 * each slug's ping counter covers its acknowledged pings. Returns the problems found.
 */
export async function verifyAcknowledged(
	dbPath: string,
	orgId: string,
	tally: WorkloadTally,
): Promise<string[]> {
	const { createClient } = await import("@libsql/client");
	const client = createClient({ url: `file:${dbPath}` });
	const problems: string[] = [];
	try {
		const stored = new Set<string>();
		const logs = await client.execute({
			sql: "SELECT body FROM logs WHERE org_id = ? AND service = 'soak'",
			args: [orgId],
		});
		for (const row of logs.rows) stored.add(String(row[0]));
		let missing = 0;
		for (const body of tally.ackedRecords) if (!stored.has(body)) missing++;
		if (missing > 0) problems.push(`${missing} acknowledged log records are missing`);
		const perExport = new Map<string, number>();
		for (const body of stored) {
			const tag = body.slice(0, body.lastIndexOf("/"));
			perExport.set(tag, (perExport.get(tag) ?? 0) + 1);
		}
		const torn = [...perExport.values()].filter((n) => n !== RECORDS_PER_EXPORT).length;
		if (torn > 0) problems.push(`${torn} exports are torn (some records stored, not all)`);
		for (const [slug, acked] of tally.ackedPings) {
			const row = await client.execute({
				sql: "SELECT ping_seq FROM monitors WHERE org_id = ? AND slug = ?",
				args: [orgId, slug],
			});
			const seq = Number(row.rows[0]?.[0] ?? 0);
			if (seq < acked) problems.push(`monitor ${slug}: ${acked} pings acknowledged, ${seq} stored`);
		}
	} finally {
		client.close();
	}
	return problems;
}
