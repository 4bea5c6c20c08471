/**
 * OTLP/gRPC connection limits: a message is read whole before the call reaches the app (and its API
 * key check), so the server bounds streams per connection and how long a connection lives. The
 * real grpc-js server and client; the app behind it is a counting handler (what is under test is
 * the transport's limits, which the app never sees).
 */
import {
	connectivityState,
	credentials,
	Client as GrpcClient,
	Metadata,
	type ServiceError,
} from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
	GRPC_CONNECTION_LIMITS,
	type OtlpGrpcServer,
	startOtlpGrpcServer,
} from "../../src/runtime/otlp-grpc.js";

const EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const bytes = (b: Buffer) => b;

let server: OtlpGrpcServer | undefined;
let client: GrpcClient | undefined;
afterEach(async () => {
	client?.close();
	client = undefined;
	await server?.close();
	server = undefined;
});

function call(c: GrpcClient): Promise<Buffer> {
	return new Promise((resolve, reject) =>
		c.makeUnaryRequest(
			EXPORT,
			bytes,
			bytes,
			Buffer.alloc(0),
			new Metadata(),
			(error: ServiceError | null, answer?: Buffer) =>
				error ? reject(error) : resolve(answer ?? Buffer.alloc(0)),
		),
	);
}

describe("OTLP/gRPC connection limits", () => {
	it("the defaults: 32 streams a connection, idle 5 min, age 10 min + 30 s", () => {
		expect(GRPC_CONNECTION_LIMITS).toEqual({
			maxConcurrentStreams: 32,
			maxConnectionIdleMs: 300_000,
			maxConnectionAgeMs: 600_000,
			maxConnectionAgeGraceMs: 30_000,
		});
	});

	it("no more calls at once on one connection than maxConcurrentStreams; the others wait their turn", async () => {
		let active = 0;
		let most = 0;
		const waiting: Array<() => void> = [];
		server = await startOtlpGrpcServer({
			port: 0,
			host: "127.0.0.1",
			maxMessageBytes: 1024,
			connectionLimits: { ...GRPC_CONNECTION_LIMITS, maxConcurrentStreams: 2 },
			fetch: async () => {
				active++;
				most = Math.max(most, active);
				await new Promise<void>((resolve) => waiting.push(resolve));
				active--;
				return new Response(new Uint8Array(0), { headers: { "Content-Type": "application/x-protobuf" } });
			},
		});
		client = new GrpcClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
		const calls = Array.from({ length: 5 }, () => call(client as GrpcClient));
		for (let i = 0; i < 50 && active < 2; i++) await new Promise((r) => setTimeout(r, 10));
		await new Promise((r) => setTimeout(r, 100));
		expect(active).toBe(2);
		// Release them as they come: every call is answered, never more than two at once.
		const release = setInterval(() => waiting.shift()?.(), 5);
		await Promise.all(calls);
		clearInterval(release);
		expect(most).toBe(2);
	});

	it("a connection with no call for maxConnectionIdleMs is closed by the server; the client reconnects for the next call", async () => {
		let calls = 0;
		server = await startOtlpGrpcServer({
			port: 0,
			host: "127.0.0.1",
			maxMessageBytes: 1024,
			connectionLimits: { ...GRPC_CONNECTION_LIMITS, maxConnectionIdleMs: 200 },
			fetch: async () => {
				calls++;
				return new Response(new Uint8Array(0), { headers: { "Content-Type": "application/x-protobuf" } });
			},
		});
		client = new GrpcClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
		await call(client);
		expect(client.getChannel().getConnectivityState(false)).toBe(connectivityState.READY);
		// The server's GOAWAY takes the channel out of READY.
		for (
			let i = 0;
			i < 100 && client.getChannel().getConnectivityState(false) === connectivityState.READY;
			i++
		)
			await new Promise((r) => setTimeout(r, 20));
		expect(client.getChannel().getConnectivityState(false)).not.toBe(connectivityState.READY);
		await call(client);
		expect(calls).toBe(2);
	});
});
