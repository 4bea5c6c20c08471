import { promises as dns, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { RefusedTargetError, type WebhookTransport } from "../heartbeats/webhook-transport.js";
import { isPrivateAddress } from "../heartbeats/webhook-url.js";

/** A host name → its addresses (dns.lookup by default; tests pass their own). */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/**
 * The Node webhook transport: node:http(s) with a `lookup` that resolves the host name, refuses the
 * connection when any address is private, loopback, link-local (cloud metadata), CGNAT or otherwise
 * local, and hands the socket exactly the addresses it checked. The check and the connection use
 * one resolution, so a DNS answer that changes in between (rebinding) cannot slip a private address
 * past it. No connection pooling (`agent: false`): every delivery resolves and checks again.
 * Redirects are not followed. With `allowPrivate` (WEBHOOK_ALLOW_PRIVATE_TARGETS) nothing is refused.
 */
export function nodeWebhookTransport(options: {
	allowPrivate: boolean;
	resolve?: Resolve;
}): WebhookTransport {
	const resolve = options.resolve ?? systemResolve;
	const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
		resolve(hostname).then(
			(addresses) => {
				if (addresses.length === 0) {
					callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 4);
					return;
				}
				if (!options.allowPrivate && addresses.some((a) => isPrivateAddress(a.address))) {
					callback(new RefusedTargetError() as NodeJS.ErrnoException, "", 4);
					return;
				}
				if (lookupOptions.all) callback(null, addresses);
				else callback(null, (addresses[0] as LookupAddress).address, (addresses[0] as LookupAddress).family);
			},
			(error: NodeJS.ErrnoException) => callback(error, "", 4),
		);
	};
	return (url, request) =>
		new Promise((resolvePromise, reject) => {
			const target = new URL(url);
			const client = target.protocol === "https:" ? https : http;
			const outgoing = client.request(
				target,
				{ method: request.method, headers: request.headers, lookup, agent: false, signal: request.signal },
				(response) => {
					response.resume(); // the body is not needed
					resolvePromise({ status: response.statusCode ?? 0 });
				},
			);
			outgoing.on("error", reject);
			outgoing.end(request.body);
		});
}
