import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionContext } from "hono";
import type { Role } from "../../src/auth/jwt.js";
import { type Answer, seedUser, sessionFor } from "./management.js";
import type { TestApp } from "./node-app.js";

/** Requests to the app with an execution context whose waitUntil work the test can await. */
export class DeferredWork {
	readonly pending: Promise<unknown>[] = [];
	readonly ctx: ExecutionContext = {
		waitUntil: (work: Promise<unknown>) => {
			this.pending.push(work);
		},
		passThroughOnException: () => {},
		props: {},
	};
	/** Waits for everything deferred so far (and deferred meanwhile). */
	async settle(): Promise<number> {
		let done = 0;
		while (done < this.pending.length) {
			await Promise.all(this.pending.slice(done));
			done = this.pending.length;
		}
		return done;
	}
}

export async function request(
	t: TestApp,
	method: string,
	path: string,
	options: {
		key?: string;
		token?: string;
		body?: BodyInit;
		json?: unknown;
		headers?: Record<string, string>;
		deferred?: DeferredWork;
	} = {},
): Promise<Answer> {
	const headers: Record<string, string> = { ...options.headers };
	if (options.key) headers["X-API-Key"] = options.key;
	if (options.token) headers.Authorization = `Bearer ${options.token}`;
	let body = options.body;
	if (options.json !== undefined) {
		headers["Content-Type"] = "application/json";
		body = JSON.stringify(options.json);
	}
	const init: RequestInit = { method, headers, ...(body === undefined ? {} : { body }) };
	const response = await t.app.request(path, init, undefined, (options.deferred ?? new DeferredWork()).ctx);
	const text = await response.text();
	let json: unknown = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch {
		json = null;
	}
	return { status: response.status, headers: response.headers, text, json };
}

/** A session token of a fresh user with `role` in the org. */
export async function tokenFor(t: TestApp, orgId: string, role: Role): Promise<string> {
	const user = await seedUser(t, { orgId, role });
	return (await sessionFor(t, user)).token;
}

export interface ReceivedRequest {
	method: string;
	path: string;
	headers: IncomingHttpHeaders;
	body: string;
}

/**
 * A real HTTP receiver on 127.0.0.1 for webhook deliveries. `respond` decides each answer's status
 * (by default 204); `hold()` keeps answers back until `release()`.
 */
export async function startReceiver(): Promise<{
	url: string;
	received: ReceivedRequest[];
	respond: (fn: (request: ReceivedRequest, index: number) => number) => void;
	hold: () => void;
	release: () => void;
	/** Resolves once `n` requests have arrived. */
	waitFor: (n: number) => Promise<void>;
	close: () => Promise<void>;
}> {
	const received: ReceivedRequest[] = [];
	let decide = (_r: ReceivedRequest, _i: number) => 204;
	let held: (() => void)[] | null = null;
	const waiters: { n: number; resolve: () => void }[] = [];
	const server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const entry = {
				method: req.method ?? "",
				path: req.url ?? "",
				headers: req.headers,
				body: Buffer.concat(chunks).toString("utf8"),
			};
			received.push(entry);
			const status = decide(entry, received.length - 1);
			for (const w of waiters.filter((w) => received.length >= w.n)) {
				waiters.splice(waiters.indexOf(w), 1);
				w.resolve();
			}
			const answer = () => {
				res.statusCode = status;
				res.end();
			};
			if (held) held.push(answer);
			else answer();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const port = (server.address() as AddressInfo).port;
	return {
		url: `http://127.0.0.1:${port}`,
		received,
		respond: (fn) => {
			decide = fn;
		},
		hold: () => {
			held = [];
		},
		release: () => {
			const pending = held ?? [];
			held = null;
			for (const answer of pending) answer();
		},
		waitFor: (n) =>
			received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
