/**
 * How a webhook delivery leaves the process. Workers (and tests) use `fetch`; the Node runtime
 * plugs in a transport that resolves the host name itself and refuses private targets at connect
 * time (src/runtime/webhook-node.ts).
 */
export interface WebhookRequest {
	method: "POST";
	headers: Record<string, string>;
	body: string;
	signal: AbortSignal;
}

/** Resolves with the receiver's status; rejects when no answer came (refused, unreachable, timed out). */
export type WebhookTransport = (url: string, request: WebhookRequest) => Promise<{ status: number }>;

/** The target's address is private, loopback, link-local or otherwise refused (checked after resolution). */
export class RefusedTargetError extends Error {
	constructor() {
		super("the target address is not allowed");
		this.name = "RefusedTargetError";
	}
}

/** fetch, redirects not followed, the answer's body released. */
export const fetchTransport: WebhookTransport = async (url, request) => {
	const response = await fetch(url, { ...request, redirect: "manual" });
	await response.body?.cancel().catch(() => {});
	return { status: response.status };
};
