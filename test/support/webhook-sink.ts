import { type Request as MiniflareRequest, Response as MiniflareResponse } from "miniflare";

/** The webhook receiver the Worker under test delivers to (through miniflare's outboundService). */
export const WEBHOOK_SINK_ORIGIN = "http://hooks.test";

interface Received {
	path: string;
	headers: Record<string, string>;
	body: string;
}

/**
 * Wraps the outbound service: POSTs to WEBHOOK_SINK_ORIGIN are recorded and answered with the status
 * named by a `status` query parameter (default 204); `GET /_received?path=<path>` returns the POSTs
 * recorded for that path, so a test inside workerd can read what its Worker sent.
 */
export function withWebhookSink(
	outbound: (request: MiniflareRequest) => Promise<MiniflareResponse>,
): (request: MiniflareRequest) => Promise<MiniflareResponse> {
	const received: Received[] = [];
	return async (request) => {
		const url = new URL(request.url);
		if (url.origin !== WEBHOOK_SINK_ORIGIN) return outbound(request);
		if (request.method === "GET" && url.pathname === "/_received") {
			const path = url.searchParams.get("path");
			return MiniflareResponse.json(received.filter((r) => r.path === path));
		}
		received.push({
			path: url.pathname,
			headers: Object.fromEntries(request.headers),
			body: await request.text(),
		});
		return new MiniflareResponse(null, { status: Number(url.searchParams.get("status") ?? 204) });
	};
}
