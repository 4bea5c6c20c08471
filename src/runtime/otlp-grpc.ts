import * as grpc from "@grpc/grpc-js";
import { decodeStatus, GRPC_CODES, SIGNALS, type Signal } from "../ingest/messages.js";
import { errorFields, type Log } from "../log.js";

/**
 * OTLP/gRPC for the Node runtime (Workers cannot send HTTP trailers). The three `Export` services are
 * registered with raw-bytes (de)serializers — no .proto loading: the message is the same
 * Export…ServiceRequest bytes OTLP/HTTP carries. Each call is handed to the app's own
 * `POST /v1/<signal>` (application/x-protobuf), so gRPC and HTTP share the credential checks, the
 * decoder, the limits and the writer; the HTTP answer is mapped back: 200 → the response message,
 * a failure → its gRPC code with the google.rpc.Status in `grpc-status-details-bin`.
 *
 * grpc-js decompresses `grpc-encoding: gzip`/`deflate` itself and refuses a message over
 * `grpc.max_receive_message_length` — compressed or after decompression — with RESOURCE_EXHAUSTED.
 */

const SERVICES: Record<Signal, string> = {
	traces: "opentelemetry.proto.collector.trace.v1.TraceService",
	logs: "opentelemetry.proto.collector.logs.v1.LogsService",
	metrics: "opentelemetry.proto.collector.metrics.v1.MetricsService",
};

/** Metadata forwarded as headers: the credential slots (classification and errors as on HTTP). */
const FORWARDED_METADATA = ["x-api-key", "authorization"];
const SHUTDOWN_GRACE_MS = 10_000;

const passThrough = (bytes: Buffer): Buffer => bytes;

function exportService(signal: Signal): grpc.ServiceDefinition {
	return {
		Export: {
			path: `/${SERVICES[signal]}/Export`,
			requestStream: false,
			responseStream: false,
			requestSerialize: passThrough,
			requestDeserialize: passThrough,
			responseSerialize: passThrough,
			responseDeserialize: passThrough,
			originalName: "export",
		},
	};
}

/**
 * Connection limits (grpc-js's server options). A message is read whole before the call reaches
 * the app (and its API key check), so without them one client could hold memory indefinitely: many
 * streams per connection, each announcing a 16 MiB message and sending all but its last byte.
 * - 32 calls at once per connection (a Collector's default sending queue runs 10);
 * - a connection with no call for 5 minutes is closed (GOAWAY; clients reconnect as they need);
 * - every connection is closed after 10 minutes, its calls given 30 s more to finish: a stalled
 *   message is held at most that long. Exporters reconnect transparently.
 */
export interface GrpcConnectionLimits {
	maxConcurrentStreams: number;
	maxConnectionIdleMs: number;
	maxConnectionAgeMs: number;
	maxConnectionAgeGraceMs: number;
}

export const GRPC_CONNECTION_LIMITS: GrpcConnectionLimits = {
	maxConcurrentStreams: 32,
	maxConnectionIdleMs: 5 * 60_000,
	maxConnectionAgeMs: 10 * 60_000,
	maxConnectionAgeGraceMs: 30_000,
};

export interface OtlpGrpcServer {
	port: number;
	close(): Promise<void>;
}

export interface OtlpGrpcOptions {
	/** The app's fetch handler. */
	fetch: (request: Request) => Response | Promise<Response>;
	port: number;
	host?: string;
	maxMessageBytes: number;
	/** GRPC_CONNECTION_LIMITS unless given (the tests use short ones). */
	connectionLimits?: GrpcConnectionLimits;
	log?: Log;
}

function exportHandler(signal: Signal, options: OtlpGrpcOptions): grpc.handleUnaryCall<Buffer, Buffer> {
	return (call, callback) => {
		const headers = new Headers({ "Content-Type": "application/x-protobuf" });
		for (const name of FORWARDED_METADATA) {
			const values = call.metadata.get(name);
			if (values.length > 0) headers.set(name, values.map(String).join(", "));
		}
		const request = new Request(`http://otlp-grpc.internal/v1/${signal}`, {
			method: "POST",
			headers,
			// a view of the message, not a copy: it may be 16 MiB
			body: new Uint8Array(
				call.request.buffer as ArrayBuffer,
				call.request.byteOffset,
				call.request.byteLength,
			),
		});
		Promise.resolve(options.fetch(request))
			.then(async (response) => {
				const body = Buffer.from(await response.arrayBuffer());
				if (response.status === 200) {
					callback(null, body);
					return;
				}
				const status = decodeStatus(body);
				const metadata = new grpc.Metadata();
				metadata.set("grpc-status-details-bin", body);
				callback({ code: status.code || GRPC_CODES.INTERNAL, details: status.message, metadata });
			})
			.catch((error: unknown) => {
				options.log?.({ level: "error", msg: "OTLP/gRPC export failed", ...errorFields(error) });
				callback({ code: GRPC_CODES.INTERNAL, details: "An unexpected error occurred." });
			});
	};
}

export async function startOtlpGrpcServer(options: OtlpGrpcOptions): Promise<OtlpGrpcServer> {
	// grpc-js's own diagnostics (e.g. "No address added…" before a bind fails) go to the log at
	// debug: what matters reaches the caller as an error or a call's status, said once.
	grpc.setLogger({
		error: (...args: unknown[]) =>
			options.log?.({ level: "debug", msg: `grpc-js: ${args.map(String).join(" ")}` }),
	});
	const limits = options.connectionLimits ?? GRPC_CONNECTION_LIMITS;
	const server = new grpc.Server({
		"grpc.max_receive_message_length": options.maxMessageBytes,
		"grpc.max_concurrent_streams": limits.maxConcurrentStreams,
		"grpc.max_connection_idle_ms": limits.maxConnectionIdleMs,
		"grpc.max_connection_age_ms": limits.maxConnectionAgeMs,
		"grpc.max_connection_age_grace_ms": limits.maxConnectionAgeGraceMs,
	});
	for (const signal of SIGNALS) {
		server.addService(exportService(signal), { Export: exportHandler(signal, options) });
	}
	const port = await new Promise<number>((resolve, reject) => {
		server.bindAsync(
			`${options.host ?? "0.0.0.0"}:${options.port}`,
			grpc.ServerCredentials.createInsecure(),
			(error, boundPort) => (error ? reject(error) : resolve(boundPort)),
		);
	});
	let closing: Promise<void> | undefined;
	return {
		port,
		close() {
			closing ??= new Promise<void>((resolve) => {
				const force = setTimeout(() => {
					server.forceShutdown();
					resolve();
				}, SHUTDOWN_GRACE_MS);
				server.tryShutdown(() => {
					clearTimeout(force);
					resolve();
				});
			});
			return closing;
		},
	};
}
