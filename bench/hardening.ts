/**
 * `npm run bench:hardening`: the security review's attack requests (issue 13) against a real Node
 * server in a child process (src/runtime/node.ts, embedded libSQL), each while a second client polls
 * `/health` every 50 ms. Prints, per attack: its answer, how long it took, and the slowest `/health`
 * answer meanwhile (how long the server stalled everyone else). Figures are reported, never
 * asserted. All load goes to 127.0.0.1 and is bounded (one attack at a time).
 *
 * Env: HARDENING_PARALLEL_EXPORTS (16), HARDENING_EXPORT_MIB (15.5).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { systemClock } from "../src/clock.js";
import { openMigratedDatabase } from "../src/db/node.js";
import { createApiKey, createOrg } from "../src/services/api-keys.js";
import { encodeOtlp } from "../test/support/otlp-protobuf.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PARALLEL = Number(process.env.HARDENING_PARALLEL_EXPORTS ?? 16);
const EXPORT_MIB = Number(process.env.HARDENING_EXPORT_MIB ?? 15.5);

async function startServer(dir: string): Promise<{ child: ChildProcess; base: string }> {
	const child = spawn(process.execPath, ["--import", "tsx", "src/runtime/node.ts"], {
		cwd: ROOT,
		env: {
			...process.env,
			PORT: "0",
			HOST: "127.0.0.1",
			OTLP_GRPC_PORT: "0",
			DATABASE_URL: `file:${join(dir, "bench.db")}`,
			DATA_DIR: join(dir, "data"),
		},
		stdio: ["ignore", "pipe", "inherit"],
	});
	const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
	const base = await new Promise<string>((resolve, reject) => {
		child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
		lines.on("line", (line) => {
			const url = /"url":"http:\/\/localhost:(\d+)"/.exec(line);
			if (url) resolve(`http://127.0.0.1:${url[1]}`);
		});
	});
	return { child, base };
}

/** Runs `attack` while polling /health; the slowest /health answer meanwhile. */
async function whileHealthPolled(base: string, attack: () => Promise<string>) {
	let running = true;
	let worst = 0;
	const poll = (async () => {
		while (running) {
			const started = performance.now();
			await fetch(`${base}/health`).then((r) => r.arrayBuffer());
			worst = Math.max(worst, performance.now() - started);
			await new Promise((r) => setTimeout(r, 50));
		}
	})();
	const started = performance.now();
	const outcome = await attack();
	const took = performance.now() - started;
	running = false;
	await poll;
	return { outcome, took, worst };
}

const T = () => `${BigInt(Date.now()) * 1_000_000n}`;
const manyAttributes = (n: number) => ({
	resourceLogs: [
		{
			scopeLogs: [
				{
					logRecords: [
						{
							timeUnixNano: T(),
							body: { stringValue: "flood" },
							attributes: Array.from({ length: n }, (_, i) => ({
								key: `attribute.key.${i}`,
								value: { stringValue: `v${i}` },
							})),
						},
					],
				},
			],
		},
	],
});

async function main() {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-hardening-"));
	const setup = await openMigratedDatabase(`file:${join(dir, "bench.db")}`);
	const org = await createOrg(setup.db, systemClock, "Attacker");
	const { key } = await createApiKey(setup.db, systemClock, {
		orgId: org.id,
		name: "attacker",
		createdBy: "cli",
	});
	// 120 log rows of 500 characters for the MATCHES attack, a minute old.
	const xy = Array.from({ length: 500 }, (_, i) => (i % 2 ? "x" : "y")).join("");
	const ns = BigInt(Date.now() - 60_000) * 1_000_000n;
	await setup.client.execute({
		sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
		      INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, resource_attributes, attributes)
		      SELECT ?, ?, ?, 'info', ?, '{}', '{}' FROM n`,
		args: [org.id, ns, ns, xy],
	});
	setup.client.close();
	const { child, base } = await startServer(dir);
	const post = (path: string, type: string, body: BodyInit) =>
		fetch(`${base}${path}`, { method: "POST", headers: { "X-API-Key": key, "Content-Type": type }, body });
	const rows: string[][] = [];
	const record = (name: string, r: { outcome: string; took: number; worst: number }) =>
		rows.push([name, r.outcome, `${(r.took / 1000).toFixed(2)} s`, `${(r.worst / 1000).toFixed(2)} s`]);
	try {
		const json = JSON.stringify(manyAttributes(200_000));
		record(
			`1. one log record, 200,000 attributes (JSON, ${(json.length / 2 ** 20).toFixed(1)} MiB)`,
			await whileHealthPolled(base, async () => {
				const r = await post("/v1/logs", "application/json", json);
				const text = await r.text();
				return `${r.status} ${/Dropped \d+ attributes/.exec(text)?.[0] ?? ""}`;
			}),
		);
		const protobuf = encodeOtlp("LogsRequest", manyAttributes(100_000));
		record(
			`1. one log record, 100,000 attributes (protobuf, ${(protobuf.length / 2 ** 20).toFixed(1)} MiB)`,
			await whileHealthPolled(
				base,
				async () => `${(await post("/v1/logs", "application/x-protobuf", protobuf)).status}`,
			),
		);
		record(
			"2. MATCHES '(x|y){300}z' over 120 rows × 500 characters",
			await whileHealthPolled(base, async () => {
				const r = await post(
					"/api/v1/dsl",
					"application/json",
					JSON.stringify({ query: "SELECT count(*) FROM logs WHERE body MATCHES '(x|y){300}z' LAST 5m" }),
				);
				return `${r.status} ${((await r.json()) as { error?: { code: string } }).error?.code ?? ""}`;
			}),
		);
		const big = JSON.stringify({
			resourceLogs: [
				{
					scopeLogs: [
						{
							logRecords: [
								{ timeUnixNano: T(), body: { stringValue: "x".repeat(EXPORT_MIB * 2 ** 20 - 300) } },
							],
						},
					],
				},
			],
		});
		record(
			`10. ${PARALLEL} parallel ${EXPORT_MIB} MiB exports of one org`,
			await whileHealthPolled(base, async () => {
				const statuses = await Promise.all(
					Array.from({ length: PARALLEL }, () =>
						post("/v1/logs", "application/json", big).then((r) => r.status),
					),
				);
				const counts = new Map<number, number>();
				for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
				return [...counts].map(([s, n]) => `${n}×${s}`).join(" ");
			}),
		);
	} finally {
		child.kill("SIGTERM");
		await new Promise((r) => child.once("exit", r));
		rmSync(dir, { recursive: true, force: true });
	}
	const header = ["attack", "answer", "took", "slowest /health meanwhile"];
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
	const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
	console.log(line(header));
	console.log(line(widths.map((w) => "-".repeat(w))));
	for (const row of rows) console.log(line(row));
}

await main();
