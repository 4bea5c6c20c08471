import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

/** A port nobody listens on right now (on loopback). */
export function freePort(): Promise<number> {
	return new Promise((resolve) => {
		const server = createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}

export interface DevEdge {
	url: string;
	child: ChildProcess;
	/** SIGTERM as a person's Ctrl+C would; resolves with the exit code. */
	stop(): Promise<number | null>;
	/** SIGKILL to its whole process group (tsx, wrangler, workerd): for afterAll. */
	kill(): void;
}

/**
 * `npm run dev:edge` (scripts/dev-edge.ts: wrangler dev in workerd over the libSQL stand-in) on a
 * free port with its data in `dataDir`, resolved once wrangler says "Ready on". Started in its own
 * process group, so a failed test leaves no workerd behind.
 */
export async function startDevEdge(dataDir: string): Promise<DevEdge> {
	const port = await freePort();
	const env = { ...process.env, DATA_DIR: dataDir, PORT: String(port), CI: "true" };
	const child = spawn(process.execPath, ["--import", "tsx", "scripts/dev-edge.ts"], {
		env,
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
	});
	let output = "";
	await new Promise<void>((resolve, reject) => {
		const onData = (chunk: Buffer) => {
			output += chunk.toString();
			if (output.includes("Ready on")) resolve();
		};
		child.stdout?.on("data", onData);
		child.stderr?.on("data", onData);
		child.once("exit", (code) => reject(new Error(`dev:edge exited (${code}): ${output}`)));
	});
	const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
	return {
		url: `http://127.0.0.1:${port}`,
		child,
		stop: async () => {
			child.kill("SIGTERM");
			return exited;
		},
		kill: () => {
			try {
				process.kill(-(child.pid as number), "SIGKILL");
			} catch {
				// Already gone.
			}
		},
	};
}

export const TSX_BIN = join(process.cwd(), "node_modules/.bin/tsx");
