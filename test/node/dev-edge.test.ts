import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../../src/web/security-headers.js";

const run = promisify(execFile);
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const dir = mkdtempSync(join(tmpdir(), "hexcovery-edge-"));
let child: ChildProcess | undefined;

afterAll(() => {
	child?.kill("SIGKILL");
	rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
	return new Promise((resolve) => {
		const server = createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

describe("npm run dev:edge", () => {
	it("serves the README's requests from workerd over the local libSQL endpoint", async () => {
		const port = await freePort();
		const env = { ...process.env, DATA_DIR: dir, PORT: String(port), CI: "true" };
		child = spawn(TSX, ["scripts/dev-edge.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
		let output = "";
		await new Promise<void>((resolve, reject) => {
			const onData = (chunk: Buffer) => {
				output += chunk.toString();
				if (output.includes("Ready on")) resolve();
			};
			child?.stdout?.on("data", onData);
			child?.stderr?.on("data", onData);
			child?.once("exit", (code) => reject(new Error(`dev:edge exited (${code}): ${output}`)));
		});

		const cliEnv = { ...process.env, DATABASE_URL: `file:${join(dir, "edge.db")}` };
		const cli = async (...args: string[]) =>
			(await run(TSX, ["src/cli.ts", ...args], { env: cliEnv })).stdout
				.trimEnd()
				.split("\n")
				.at(-1) as string;
		const orgId = await cli("org", "create", "Edge");
		const key = await cli("key", "create", "--org", orgId, "--name", "edge");

		const base = `http://127.0.0.1:${port}`;
		const created = await fetch(`${base}/api/v1/annotations`, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify({ title: "Edge deploy", tags: ["deploy"] }),
		});
		expect(created.status).toBe(201);
		const listed = await fetch(`${base}/api/v1/annotations?tags=deploy`, { headers: { "X-API-Key": key } });
		const body = (await listed.json()) as { data: { title: string }[] };
		expect(body.data.map((a) => a.title)).toEqual(["Edge deploy"]);

		// The web UI from Workers Static Assets: a deep link answers index.html with the security
		// headers (dist/web/_headers), while API paths still reach the Worker.
		const deepLink = await fetch(`${base}/monitors/nightly-backup`);
		expect(deepLink.status).toBe(200);
		expect(deepLink.headers.get("Content-Type")).toMatch(/^text\/html/);
		expect(await deepLink.text()).toContain('<div id="app"></div>');
		expect(deepLink.headers.get("Content-Security-Policy")).toBe(CONTENT_SECURITY_POLICY);
		expect(deepLink.headers.get("X-Frame-Options")).toBe("DENY");
		const setup = await fetch(`${base}/api/v1/setup`);
		expect(setup.headers.get("Content-Type")).toMatch(/^application\/json/);
		expect(await setup.json()).toEqual({ setup_required: true, setup_token_required: false });
		const missingApi = await fetch(`${base}/api/v1/no-such-route`);
		expect(missingApi.status).toBe(404);
		expect(((await missingApi.json()) as { error: { code: string } }).error.code).toBe("not_found");

		const exited = new Promise<number | null>((resolve) => child?.once("exit", resolve));
		child.kill("SIGTERM");
		expect(await exited).toBe(0);
	}, 120_000);
});
