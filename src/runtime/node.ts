import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { DestinationStream } from "pino";
import { createApp } from "../app.js";
import type { AppDeps } from "../app-env.js";
import { ConfigError, portFrom, type Settings } from "../config.js";
import { DEFAULT_OTLP_SETTINGS } from "../ingest/settings.js";
import { errorFields } from "../log.js";
import { runSweep } from "../sweep.js";
import { isApiPath } from "../web/paths.js";
import { createLogger, logLine, redactDatabaseUrl } from "./logger.js";
import { buildNodeDeps, DEFAULT_DATABASE_URL } from "./node-deps.js";
import { type OtlpGrpcServer, startOtlpGrpcServer } from "./otlp-grpc.js";
import { loadWebAssets, WEB_DIST_DIR } from "./web-assets.js";

const SHUTDOWN_GRACE_MS = 10_000;
/**
 * HTTP_REQUEST_TIMEOUT_MS (default 30 s; Node's own is 300 s): a request whose headers and body
 * have not all arrived by then is answered 408 and closed, so a client trickling a body cannot
 * hold a connection (and its org's export slot) open for minutes.
 */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** The same sweep the Worker runs from its Cron Trigger. */
const SWEEP_INTERVAL_MS = 60_000;

export interface RunningServer {
	url: string;
	port: number;
	/** The OTLP/gRPC port, or null when OTLP_GRPC_PORT is 0. */
	grpcPort: number | null;
	/** Stops accepting, lets in-flight requests finish (up to a grace period), then closes the database. */
	close(): Promise<void>;
}

function requestTimeoutFrom(settings: Settings): number {
	const raw = settings.HTTP_REQUEST_TIMEOUT_MS;
	if (raw === undefined || raw === "") return DEFAULT_REQUEST_TIMEOUT_MS;
	const value = Number(raw);
	if (typeof raw !== "string" || !/^\d+$/.test(raw) || value < 100 || value > 3_600_000) {
		throw new ConfigError("HTTP_REQUEST_TIMEOUT_MS", "invalid", "expected milliseconds, 100 to 3600000");
	}
	return value;
}

/** A port the server needs is taken: main() says so in one line, naming the setting to change. */
export class PortInUse extends Error {
	constructor(
		readonly port: number,
		readonly setting: "PORT" | "OTLP_GRPC_PORT",
	) {
		super(
			`port ${port} is in use; set ${setting} to a free one${setting === "OTLP_GRPC_PORT" ? " (0 turns OTLP/gRPC off)" : ""}.`,
		);
		this.name = "PortInUse";
	}
}

const isAddressInUse = (error: unknown) =>
	(error as { code?: string })?.code === "EADDRINUSE" ||
	/\bEADDRINUSE\b/.test(String((error as Error)?.message));

/** Starts the Node runtime: the app on @hono/node-server over an embedded, migrated libSQL database. */
export async function startNodeServer(
	settings: Settings = process.env,
	options: {
		logDestination?: DestinationStream;
		/** Changes the deps before the app is built (the heartbeat bench's "before" drops the writer). */
		adjustDeps?: (deps: AppDeps) => void;
	} = {},
): Promise<RunningServer> {
	const logger = createLogger(settings, options.logDestination);
	const log = logLine(logger);
	const port = portFrom(settings, "PORT", 8080);
	// Settings of the server itself are checked before anything is opened.
	const requestTimeout = requestTimeoutFrom(settings);
	const { deps, client, migrations } = await buildNodeDeps(settings, { log });
	deps.accessLog = (entry) => logger.info(entry, "request");
	options.adjustDeps?.(deps);
	const app = createApp(deps);
	// The web UI at `/` (GET/HEAD outside the API's paths); everything else is the app's.
	const web = loadWebAssets(WEB_DIST_DIR);
	if (!web)
		log({ level: "warn", msg: "the web UI is not built: run `npm run build:web`", dir: WEB_DIST_DIR });
	// `env` carries Node's request and response objects (the client address for login throttling).
	const fetch = (request: Request, env: unknown): Response | Promise<Response> => {
		const path = new URL(request.url).pathname;
		if (!web || (request.method !== "GET" && request.method !== "HEAD") || isApiPath(path)) {
			return app.fetch(request, env);
		}
		const started = performance.now();
		const response = web(request);
		deps.accessLog?.({
			method: request.method,
			path,
			status: response.status,
			duration_ms: Math.round((performance.now() - started) * 10) / 10,
			request_id: null,
			org_id: null,
			credential: "none",
		});
		return response;
	};
	const releaseDeps = async () => {
		await deps.reads.executor.close();
		deps.writer?.close();
		await deps.writerThread?.close();
		await deps.telemetry.close();
		client.close();
	};
	const listening = new Promise<ReturnType<typeof serve>>((resolve, reject) => {
		const started = serve(
			{
				fetch,
				port,
				hostname: settings.HOST === undefined ? undefined : String(settings.HOST),
				serverOptions: {
					requestTimeout,
					headersTimeout: Math.min(requestTimeout, 60_000),
					// How often Node looks for requests past their timeout (its default is 30 s).
					connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeout / 4))),
				},
			},
			() => resolve(started),
		);
		started.once("error", reject);
	});
	// A busy port: the reader processes and the database are let go before the error is reported.
	const server = await listening.catch(async (error: unknown) => {
		await releaseDeps();
		throw isAddressInUse(error) ? new PortInUse(port, "PORT") : error;
	});
	const actualPort = (server.address() as AddressInfo).port;
	// OTLP/gRPC on OTLP_GRPC_PORT (4317; 0 = off), over the same app (src/runtime/otlp-grpc.ts).
	const grpcPortSetting = portFrom(settings, "OTLP_GRPC_PORT", 4317);
	let grpc: OtlpGrpcServer | null = null;
	if (grpcPortSetting !== 0) {
		try {
			grpc = await startOtlpGrpcServer({
				fetch: app.fetch,
				port: grpcPortSetting,
				host: settings.HOST === undefined ? undefined : String(settings.HOST),
				maxMessageBytes: (deps.config.otlp ?? DEFAULT_OTLP_SETTINGS).maxBodyBytes,
				log,
			});
		} catch (error) {
			server.close();
			await releaseDeps();
			// grpc-js reports a taken port as "No address added … EADDRINUSE …", without a code.
			throw isAddressInUse(error) ? new PortInUse(grpcPortSetting, "OTLP_GRPC_PORT") : error;
		}
	}
	const sweep = setInterval(() => {
		runSweep(deps).catch((error: unknown) =>
			log({ level: "error", msg: "sweep failed", ...errorFields(error) }),
		);
	}, SWEEP_INTERVAL_MS);
	sweep.unref();
	logger.info(
		{
			database: redactDatabaseUrl(String(settings.DATABASE_URL || DEFAULT_DATABASE_URL)),
			migrations,
			url: `http://localhost:${actualPort}`,
			listening: `${settings.HOST ? String(settings.HOST) : "all interfaces"}, port ${actualPort}`,
			otlp_grpc: grpc ? `${settings.HOST ? String(settings.HOST) : "0.0.0.0"}:${grpc.port}` : "off",
			log_level: logger.level,
		},
		"hexcovery listening",
	);
	let closing: Promise<void> | undefined;
	return {
		url: `http://127.0.0.1:${actualPort}`,
		port: actualPort,
		grpcPort: grpc?.port ?? null,
		close() {
			closing ??= (async () => {
				clearInterval(sweep);
				const grpcClosed = grpc?.close();
				await new Promise<void>((resolve) => {
					const force = setTimeout(() => {
						if ("closeAllConnections" in server) server.closeAllConnections();
					}, SHUTDOWN_GRACE_MS);
					server.close(() => {
						clearTimeout(force);
						resolve();
					});
					if ("closeIdleConnections" in server) server.closeIdleConnections();
				});
				await grpcClosed;
				await releaseDeps();
				log({ level: "info", msg: "hexcovery stopped" });
			})();
			return closing;
		},
	};
}

async function main(): Promise<void> {
	let running: RunningServer;
	try {
		running = await startNodeServer();
	} catch (error) {
		if (error instanceof ConfigError) {
			console.error(`hexcovery: ${error.message}`);
			process.exit(2);
		}
		if (error instanceof PortInUse) {
			console.error(`hexcovery: ${error.message}`);
			process.exit(1);
		}
		throw error;
	}
	for (const signal of ["SIGTERM", "SIGINT"] as const) {
		process.once(signal, () => {
			running.close().then(
				() => process.exit(0),
				() => process.exit(1),
			);
		});
	}
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
