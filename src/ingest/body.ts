import { type BodySource, readChunks } from "../http/body-source.js";
import { DecodeError } from "./decode-error.js";

/**
 * Reading an OTLP body under a hard byte limit, before and after decompression. The compressed body
 * is read with a counter (and refused up front when Content-Length already says too much); it is
 * inflated by the runtime's DecompressionStream, read chunk by chunk with a second counter, and the
 * stream is cancelled as soon as the output passes the limit. DecompressionStream produces output
 * only as it is read, so a gzip bomb is never inflated much past the limit.
 */

export type ContentEncoding = "identity" | "gzip" | "deflate";

/** The body (compressed or not) is over the limit: 413. */
export class BodyTooLarge extends Error {
	constructor(readonly limit: number) {
		super(
			`The request body is over the ${formatBytes(limit)} limit (checked before and after decompression).`,
		);
		this.name = "BodyTooLarge";
	}
}

export function formatBytes(bytes: number): string {
	if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
	if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
	return `${bytes} bytes`;
}

/** Content-Encoding → a supported coding, or null (415). A list of codings is not supported. */
export function contentEncodingOf(header: string | undefined): ContentEncoding | null {
	const value = (header ?? "").trim().toLowerCase();
	if (value === "" || value === "identity") return "identity";
	if (value === "gzip" || value === "x-gzip") return "gzip";
	if (value === "deflate") return "deflate";
	return null;
}

/**
 * Reads a body to its end into one buffer, or throws BodyTooLarge as soon as it passes `maxBytes`.
 * Sized from `expectedBytes` (Content-Length) when known, so a large body is held once, not twice,
 * and a small one takes no more than it needs (64 KiB to start with when the length is unknown).
 */
async function readCapped(source: BodySource, maxBytes: number, expectedBytes = 0): Promise<Uint8Array> {
	let buffer = new Uint8Array(Math.min(expectedBytes > 0 ? expectedBytes : 64 * 1024, maxBytes));
	let total = 0;
	let tooLarge = false;
	await readChunks(source, (value) => {
		if (total + value.byteLength > maxBytes) {
			tooLarge = true;
			return false;
		}
		if (total + value.byteLength > buffer.byteLength) {
			const grown = new Uint8Array(
				Math.min(maxBytes, Math.max(buffer.byteLength * 2, total + value.byteLength)),
			);
			grown.set(buffer.subarray(0, total));
			buffer = grown;
		}
		buffer.set(value, total);
		total += value.byteLength;
		return true;
	});
	if (tooLarge) throw new BodyTooLarge(maxBytes);
	return buffer.subarray(0, total);
}

/** RFC 1950 (zlib) header: what `Content-Encoding: deflate` means; some clients send raw deflate. */
function isZlibWrapped(bytes: Uint8Array): boolean {
	const cmf = bytes[0];
	const flg = bytes[1];
	return (
		cmf !== undefined &&
		flg !== undefined &&
		(cmf & 0x0f) === 8 &&
		cmf >> 4 <= 7 &&
		((cmf << 8) | flg) % 31 === 0
	);
}

export async function inflateCapped(
	compressed: Uint8Array,
	encoding: Exclude<ContentEncoding, "identity">,
	maxBytes: number,
): Promise<Uint8Array> {
	const format = encoding === "gzip" ? "gzip" : isZlibWrapped(compressed) ? "deflate" : "deflate-raw";
	const source = new Response(compressed as Uint8Array<ArrayBuffer>).body as ReadableStream<
		Uint8Array<ArrayBuffer>
	>;
	try {
		const inflated = source.pipeThrough(new DecompressionStream(format)) as ReadableStream<Uint8Array>;
		return await readCapped(inflated, maxBytes);
	} catch (error) {
		if (error instanceof BodyTooLarge) throw error;
		throw new DecodeError("Content-Encoding", `the body is not valid ${encoding} data`);
	}
}

/**
 * The request body, decompressed, at most `maxBytes` before and after decompression; read from
 * `source` (by default `Request.body`; the runtime's own where cheaper: src/http/body-source.ts).
 */
export async function readOtlpBody(
	request: Request,
	encoding: ContentEncoding,
	maxBytes: number,
	source: BodySource | null = request.body,
): Promise<Uint8Array> {
	const declared = Number(request.headers.get("Content-Length") ?? 0);
	if (declared > maxBytes) throw new BodyTooLarge(maxBytes);
	let raw: Uint8Array = new Uint8Array(0);
	try {
		if (source) raw = await readCapped(source, maxBytes, declared || 0);
	} catch (error) {
		// The client stopped sending (or the request timeout closed it): its mistake, not a 500.
		if (error instanceof BodyTooLarge) throw error;
		throw new DecodeError("body", "the request body did not arrive in full");
	}
	return encoding === "identity" ? raw : inflateCapped(raw, encoding, maxBytes);
}
