import { type AddressInfo, createServer } from "node:net";
import { MetricReader } from "@opentelemetry/sdk-metrics";

/** A port nobody listens on right now (OTLP_GRPC_PORT=0 means "off", so a test picks one). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.once("error", reject);
		probe.listen(0, "127.0.0.1", () => {
			const { port } = probe.address() as AddressInfo;
			probe.close(() => resolve(port));
		});
	});
}

/** A metric reader collected by hand (`collect()`): the test decides when metrics are read. */
export class ManualReader extends MetricReader {
	protected override async onForceFlush(): Promise<void> {}
	protected override async onShutdown(): Promise<void> {}
}
