/**
 * What the load bench (bench/load.ts) and the soak and crash scripts (scripts/soak.ts,
 * scripts/crash.ts) share: a real Node server in a child process (`startNodeServer`, the runtime
 * `npm start` runs), fixtures for it (an org, an API key, a viewer session), request bodies, and
 * latency percentiles.
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

/** Starts `npm start`'s server (scripts/serve-child.ts) with `env`; resolves once it listens. */
export async function startServerChild(env: Record<string, string>): Promise<ServerChild> {
	const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/load-server.ts")], {
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

/** The p-th percentile (0–100) of `values` (sorted here), NaN when empty. */
export function percentile(values: number[], p: number): number {
	if (values.length === 0) return Number.NaN;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
