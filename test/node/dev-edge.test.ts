import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../../src/web/security-headers.js";
import { type DevEdge, startDevEdge, TSX_BIN as TSX } from "../support/dev-edge.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "hexcovery-edge-"));
let edge: DevEdge | undefined;

afterAll(() => {
	edge?.kill();
	rmSync(dir, { recursive: true, force: true });
});

describe("npm run dev:edge", () => {
	it("serves the README's requests from workerd over the local libSQL endpoint", async () => {
		edge = await startDevEdge(dir);
		const base = edge.url;
		// The README's story: first-run setup, then a key for that org from the CLI (`org list`).
		const open = await fetch(`${base}/api/v1/setup`);
		expect(await open.json()).toEqual({ setup_required: true, setup_token_required: false });
		const owner = { email: "ada@example.com", password: "plum-tractor-ocean-41" };
		const setUp = await fetch(`${base}/api/v1/setup`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ org_name: "Acme", name: "Ada", ...owner }),
		});
		expect(setUp.status).toBe(201);
		const setupOrg = ((await setUp.json()) as { org: { id: string } }).org.id;
		const cliEnv = { ...process.env, DATABASE_URL: `file:${join(dir, "edge.db")}` };
		const cliLines = async (...args: string[]) =>
			(await run(TSX, ["src/cli.ts", ...args], { env: cliEnv })).stdout.trimEnd().split("\n");
		const orgs = await cliLines("org", "list");
		expect(orgs).toEqual([`${setupOrg} Acme`]);
		const orgId = orgs[0]?.split(" ")[0] as string;
		const created = await cliLines("key", "create", "--org", orgId, "--name", "edge");
		expect(created[0]).toContain(`for ${setupOrg} "Acme"`);
		const key = created.at(-1) as string;

		const annotated = await fetch(`${base}/api/v1/annotations`, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify({ title: "Edge deploy", tags: ["deploy"] }),
		});
		expect(annotated.status).toBe(201);
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
		expect(await setup.json()).toEqual({ setup_required: false, setup_token_required: false });
		const missingApi = await fetch(`${base}/api/v1/no-such-route`);
		expect(missingApi.status).toBe(404);
		expect(((await missingApi.json()) as { error: { code: string } }).error.code).toBe("not_found");

		// The README's sweep trigger: GET /__scheduled runs the Cron Trigger handler, which flips an
		// overdue monitor to down (seen by the owner who signed in: the same org as the key).
		const pinged = await fetch(`${base}/api/v1/heartbeat/edge-sweep?period=1s&grace=0`, {
			method: "POST",
			headers: { "X-API-Key": key },
		});
		expect(pinged.status).toBe(201);
		const login = await fetch(`${base}/api/v1/auth/login`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify(owner),
		});
		const { access_token } = (await login.json()) as { access_token: string };
		const status = async () =>
			(
				(await (
					await fetch(`${base}/api/v1/monitors/edge-sweep`, {
						headers: { Authorization: `Bearer ${access_token}` },
					})
				).json()) as { status: string }
			).status;
		expect(await status()).toBe("up");
		let swept = "up";
		for (let attempt = 0; attempt < 60 && swept !== "down"; attempt++) {
			await new Promise((resolve) => setTimeout(resolve, 500));
			const fired = await fetch(`${base}/__scheduled?cron=*+*+*+*+*`);
			expect(await fired.text()).toBe("Ran scheduled event");
			swept = await status();
		}
		expect(swept).toBe("down");

		// /docs from the Worker: the page and everything it loads come from the same origin.
		const docs = await (await fetch(`${base}/docs`)).text();
		const loaded = [...docs.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
		expect(loaded.length).toBeGreaterThanOrEqual(3);
		for (const path of loaded) {
			expect(path.startsWith("/"), path).toBe(true);
			expect((await fetch(`${base}${path}`)).status, path).toBe(200);
		}

		expect(await edge.stop()).toBe(0);
	}, 120_000);
});
